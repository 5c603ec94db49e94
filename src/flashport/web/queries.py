"""The few reads the storefront needs that no service offers: product facts for item pages, the event
an item belongs to, and a buyer's order statuses for the orders page's live refresh."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from flashport.adapters.db.schema import orders, products, sale_items, skus
from flashport.domain.errors import NotFound
from flashport.services.context import Context


async def item_facts(ctx: Context, item_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """Per sale item: the product's description and origin country, and the SKU's spec."""
    if not item_ids:
        return {}
    query = (
        sa.select(sale_items.c.id, products.c.description, products.c.origin_country, skus.c.spec)
        .select_from(
            sale_items.join(skus, skus.c.id == sale_items.c.sku_id).join(
                products, products.c.id == skus.c.product_id
            )
        )
        .where(sale_items.c.id.in_(item_ids))
    )
    async with ctx.read() as conn:
        rows = (await conn.execute(query)).all()
    return {
        row.id: {"description": row.description, "origin": row.origin_country, "spec": row.spec}
        for row in rows
    }


async def event_of_item(ctx: Context, item_id: int) -> int:
    async with ctx.read() as conn:
        event_id = await conn.scalar(sa.select(sale_items.c.event_id).where(sale_items.c.id == item_id))
    if event_id is None:
        raise NotFound(f"sale item {item_id} does not exist", code="sale_item_not_found")
    return int(event_id)


async def order_statuses(ctx: Context, buyer_id: int, *, limit: int = 50) -> list[dict[str, str]]:
    """The buyer's newest orders, number and status only: one indexed query per poll."""
    query = (
        sa.select(orders.c.order_no, orders.c.status)
        .where(orders.c.buyer_id == buyer_id)
        .order_by(orders.c.created_at.desc())
        .limit(limit)
    )
    async with ctx.read() as conn:
        rows = (await conn.execute(query)).all()
    return [{"order_no": row.order_no, "status": row.status} for row in rows]
