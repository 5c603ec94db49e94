"""The few reads the storefront needs that no service offers: product facts for item pages, the event
an item belongs to, a buyer's order statuses for the orders page's live refresh, and where each of
their orders stands between checkout and payment."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from flashport.adapters.db.schema import orders, payments, products, sale_items, skus
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


@dataclass(frozen=True)
class PaymentStage:
    """Where an order stands before its money moves: checked out (so it has an amount to pay), and
    whether a payment was opened (after which checkout refuses to change it)."""

    checked_out: bool
    payment_started: bool


async def payment_stages(ctx: Context, buyer_id: int, order_nos: Sequence[str]) -> dict[str, PaymentStage]:
    """Per order number of this buyer's: its :class:`PaymentStage`. One query, scoped by buyer."""
    if not order_nos:
        return {}
    started = sa.exists().where(payments.c.order_id == orders.c.id)
    query = sa.select(orders.c.order_no, orders.c.checked_out_at, started.label("started")).where(
        orders.c.buyer_id == buyer_id, orders.c.order_no.in_(list(order_nos))
    )
    async with ctx.read() as conn:
        rows = (await conn.execute(query)).all()
    return {row.order_no: PaymentStage(row.checked_out_at is not None, bool(row.started)) for row in rows}
