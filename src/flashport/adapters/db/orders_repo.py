"""SQL for orders: inserting drafts in bulk, finding them, reading the buy path's item terms."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from flashport.adapters.db.schema import (
    order_lines,
    orders,
    outbox,
    products,
    sale_events,
    sale_items,
    skus,
    users,
    warehouses,
)
from flashport.domain.money import format_fen
from flashport.domain.orders import Fulfilment, ItemTerms, OrderDraft, OrderStatus


def _order_row(d: OrderDraft) -> dict[str, Any]:
    return {
        "id": d.id,
        "order_no": d.order_no,
        "buyer_id": d.buyer_id,
        "event_id": d.terms.event_id,
        "sale_item_id": d.terms.item_id,
        "quantity": d.quantity,
        "status": OrderStatus.PENDING_PAYMENT.value,
        "fulfilment": d.terms.fulfilment.value,
        "goods_value_fen": d.goods_value_fen,
        "freight_fen": 0,
        "discount_fen": 0,
        "tax_fen": 0,
        "total_fen": d.total_fen,
        "idempotency_key": d.idempotency_key,
        "created_at": d.created_at,
        "payment_deadline": d.payment_deadline,
    }


def _line_row(d: OrderDraft) -> dict[str, Any]:
    return {
        "order_id": d.id,
        "line_no": 1,
        "sale_item_id": d.terms.item_id,
        "sku_id": d.terms.sku_id,
        "title": d.terms.title,
        "quantity": d.quantity,
        "unit_price_fen": d.terms.sale_price_fen,
        "total_fen": d.goods_value_fen,
    }


def _event_row(d: OrderDraft) -> dict[str, Any]:
    return {
        "type": "order.created",
        "subject": f"order:{d.order_no}",
        "occurred_at": d.created_at,
        "payload": {
            "order_id": d.id,
            "order_no": d.order_no,
            "buyer_id": d.buyer_id,
            "event_id": d.terms.event_id,
            "sale_item_id": d.terms.item_id,
            "sku_id": d.terms.sku_id,
            "quantity": d.quantity,
            "total": format_fen(d.total_fen),
            "payment_deadline": d.payment_deadline.isoformat(),
        },
    }


async def insert_drafts(conn: AsyncConnection, drafts: Sequence[OrderDraft]) -> None:
    """Three multi-row INSERTs for the whole batch: orders, their lines, their outbox events."""
    if not drafts:
        return
    await conn.execute(orders.insert(), [_order_row(d) for d in drafts])
    await conn.execute(order_lines.insert(), [_line_row(d) for d in drafts])
    await conn.execute(outbox.insert(), [_event_row(d) for d in drafts])


async def find_by_key(conn: AsyncConnection, buyer_id: int, key: str) -> Any:
    query = sa.select(orders.c.id, orders.c.sale_item_id, orders.c.quantity).where(
        orders.c.buyer_id == buyer_id, orders.c.idempotency_key == key
    )
    return (await conn.execute(query)).first()


async def load_order(conn: AsyncConnection, order_id: str) -> dict[str, Any] | None:
    row = (await conn.execute(sa.select(orders).where(orders.c.id == order_id))).first()
    if row is None:
        return None
    order = dict(row._mapping)
    lines = await conn.execute(
        sa.select(order_lines).where(order_lines.c.order_id == order_id).order_by(order_lines.c.line_no)
    )
    order["lines"] = [dict(r._mapping) for r in lines]
    return order


async def load_terms(conn: AsyncConnection, item_id: int) -> ItemTerms | None:
    query = (
        sa.select(
            sale_items.c.id,
            sale_items.c.event_id,
            sale_items.c.sku_id,
            sale_items.c.sale_price_fen,
            sale_items.c.quantity,
            sale_items.c.per_buyer_limit,
            sale_events.c.starts_at,
            sale_events.c.ends_at,
            sale_events.c.state,
            products.c.title.label("product_title"),
            skus.c.title.label("sku_title"),
            warehouses.c.kind,
        )
        .join(sale_events, sale_events.c.id == sale_items.c.event_id)
        .join(skus, skus.c.id == sale_items.c.sku_id)
        .join(products, products.c.id == skus.c.product_id)
        .join(warehouses, warehouses.c.id == sale_items.c.warehouse_id)
        .where(sale_items.c.id == item_id)
    )
    row = (await conn.execute(query)).first()
    if row is None:
        return None
    title = (
        row.sku_title
        if row.sku_title.startswith(row.product_title)  # the SKU's title already names the product
        else f"{row.product_title} {row.sku_title}".strip()
    )
    return ItemTerms(
        item_id=row.id,
        event_id=row.event_id,
        sku_id=row.sku_id,
        title=title[:300],
        sale_price_fen=row.sale_price_fen,
        quantity=row.quantity,
        per_buyer_limit=row.per_buyer_limit,
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        open=row.state == "scheduled",
        fulfilment=Fulfilment.BONDED if row.kind == "bonded" else Fulfilment.DIRECT,
    )


async def taken_truth(
    conn: AsyncConnection, item_ids: Sequence[int]
) -> dict[int, tuple[int, dict[int, int]]]:
    """The database truth of the counters: units in live orders, plus units of closed orders whose
    release has not reached the stock engine yet (they are still counted there)."""
    still_held = sa.or_(
        orders.c.status.in_([OrderStatus.PENDING_PAYMENT.value, OrderStatus.PAID.value]),
        orders.c.stock_released_at.is_(None),
    )
    query = (
        sa.select(orders.c.sale_item_id, orders.c.buyer_id, sa.func.sum(orders.c.quantity))
        .where(orders.c.sale_item_id.in_(item_ids), still_held)
        .group_by(orders.c.sale_item_id, orders.c.buyer_id)
    )
    truth: dict[int, tuple[int, dict[int, int]]] = {i: (0, {}) for i in item_ids}
    for item_id, buyer_id, units in await conn.execute(query):
        total, buyers = truth[item_id]
        buyers[buyer_id] = int(units)
        truth[item_id] = (total + int(units), buyers)
    return truth


# The references of the hot tables. They have no foreign keys (migration 0007): the write path takes these
# ids from rows it has just read or from a verified token, and ``flashport reconcile`` checks them here.
_ORDER_KEY = (orders.c.id,)
_LINE_KEY = (order_lines.c.order_id, order_lines.c.line_no)
_REFERENCES: tuple[tuple[str, tuple[sa.Column[Any], ...], sa.Column[Any], sa.Table], ...] = (
    ("orders whose buyer does not exist", _ORDER_KEY, orders.c.buyer_id, users),
    ("orders whose sale event does not exist", _ORDER_KEY, orders.c.event_id, sale_events),
    ("orders whose sale item does not exist", _ORDER_KEY, orders.c.sale_item_id, sale_items),
    ("order lines whose order does not exist", _LINE_KEY, order_lines.c.order_id, orders),
    ("order lines whose sale item does not exist", _LINE_KEY, order_lines.c.sale_item_id, sale_items),
    ("order lines whose SKU does not exist", _LINE_KEY, order_lines.c.sku_id, skus),
)


async def dangling_references(conn: AsyncConnection, *, samples: int = 5) -> list[tuple[str, int, list[str]]]:
    """Per kind of reference that points at nothing: (what, how many rows, the keys of the first
    ``samples``). Kinds without such rows are left out. One anti-join per kind, each reading a whole hot
    table: for an operator's command, never for a request."""
    found = []
    for what, key, column, referred in _REFERENCES:
        query = (
            sa.select(*key, sa.func.count().over().label("dangling"))
            .where(~sa.exists().where(referred.c.id == column))
            .order_by(*key)
            .limit(samples)
        )
        rows = (await conn.execute(query)).all()
        if rows:
            found.append((what, int(rows[0].dangling), [":".join(str(v) for v in r[:-1]) for r in rows]))
    return found
