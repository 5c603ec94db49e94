"""Orders after the buy: reading them, the buyer's cancel, and the payment window's expiry (rule 5).

Closing an order is one conditional UPDATE (``... WHERE status = 'pending_payment'``): of any number of
racing sweepers and cancels, exactly one moves the order, and only that one returns its units.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from flashport.adapters.db import orders_repo
from flashport.adapters.db.schema import declarations, orders
from flashport.domain.errors import NotFound
from flashport.domain.money import format_fen
from flashport.domain.orders import OrderStatus, check_cancellable_by_buyer
from flashport.services.context import Context, Tx

log = logging.getLogger(__name__)


def order_view(order: Mapping[str, Any]) -> dict[str, Any]:
    money = {
        k[: -len("_fen")]: format_fen(order[k])
        for k in ("goods_value_fen", "freight_fen", "discount_fen", "tax_fen", "total_fen")
    }
    lines = [
        {
            "line_no": ln["line_no"],
            "sku_id": ln["sku_id"],
            "title": ln["title"],
            "quantity": ln["quantity"],
            "unit_price": format_fen(ln["unit_price_fen"]),
            "total": format_fen(ln["total_fen"]),
        }
        for ln in order.get("lines", [])
    ]
    return {
        "id": order["id"],
        "order_no": order["order_no"],
        "status": order["status"],
        "event_id": order["event_id"],
        "sale_item_id": order["sale_item_id"],
        "quantity": order["quantity"],
        "fulfilment": order["fulfilment"],
        **money,
        "currency": "CNY",
        "lines": lines,
        "created_at": order["created_at"],
        "payment_deadline": order["payment_deadline"],
        "paid_at": order.get("paid_at"),
        "closed_at": order.get("closed_at"),
        "customs_status": order.get("customs_status"),  # the declaration's state once paid
        "customs_reason_code": order.get("customs_reason_code"),  # why it was rejected, if it was
    }


async def _with_customs_status(conn: Any, found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if not found:
        return found
    rows = (
        await conn.execute(
            sa.select(declarations.c.order_id, declarations.c.state, declarations.c.reason_code).where(
                declarations.c.order_id.in_([o["id"] for o in found])
            )
        )
    ).all()
    declared = {row.order_id: (row.state, row.reason_code) for row in rows}
    viewed = []
    for o in found:
        state, reason_code = declared.get(o["id"], (None, None))
        viewed.append({**o, "customs_status": state, "customs_reason_code": reason_code})
    return viewed


async def get_for_buyer(ctx: Context, buyer_id: int, order_no: str) -> dict[str, Any]:
    async with ctx.read() as conn:
        order_id = await conn.scalar(
            sa.select(orders.c.id).where(orders.c.order_no == order_no, orders.c.buyer_id == buyer_id)
        )
        order = await orders_repo.load_order(conn, order_id) if order_id else None
        if order is None:  # another buyer's order looks exactly like a missing one
            raise NotFound(f"order {order_no} not found", code="order_not_found")
        [order] = await _with_customs_status(conn, [dict(order)])
    return order_view(order)


async def list_for_buyer(ctx: Context, buyer_id: int, *, limit: int = 50) -> list[dict[str, Any]]:
    async with ctx.read() as conn:
        ids = (
            await conn.scalars(
                sa.select(orders.c.id)
                .where(orders.c.buyer_id == buyer_id)
                .order_by(orders.c.created_at.desc())
                .limit(limit)
            )
        ).all()
        loaded = [await orders_repo.load_order(conn, i) for i in ids]
        found = await _with_customs_status(conn, [dict(o) for o in loaded if o is not None])
    return [order_view(o) for o in found]


_CLOSED_COLUMNS = (
    orders.c.id,
    orders.c.order_no,
    orders.c.sale_item_id,
    orders.c.buyer_id,
    orders.c.quantity,
    orders.c.event_id,
)


async def close_within(
    ctx: Context, tx: Tx, order_id: str, to: OrderStatus, *, buyer_id: int | None = None
) -> dict[str, Any] | None:
    """Inside ``tx``: move one pending order to ``to`` and return its units (when the stock engine
    lives in the database). None when someone else moved it first. If the result's ``released_now``
    is False, the caller must call :func:`release_after_commit` once ``tx`` has committed."""
    where = [orders.c.id == order_id]
    if buyer_id is not None:
        where.append(orders.c.buyer_id == buyer_id)
    closed = await close_many_within(ctx, tx, where, to)
    return closed[0] if closed else None


async def close_many_within(
    ctx: Context, tx: Tx, where: Sequence[sa.ColumnElement[bool]], to: OrderStatus
) -> list[dict[str, Any]]:
    """Inside ``tx``: move every pending order that matches ``where`` to ``to`` in one conditional
    UPDATE, return their units and write one outbox event each. Orders someone else moved first are
    left alone. Each result's ``released_now`` says whether :func:`release_after_commit` is owed."""
    stock = ctx.stock
    assert stock is not None
    moved = (
        await tx.conn.execute(
            orders.update()
            .where(*where, orders.c.status == OrderStatus.PENDING_PAYMENT.value)
            .values(status=to.value, closed_at=tx.now)
            .returning(*_CLOSED_COLUMNS)
        )
    ).all()
    if not moved:
        return []
    closed = [{**row._mapping, "status_before": OrderStatus.PENDING_PAYMENT.value} for row in moved]
    released_now = await stock.release_within(tx.conn, closed)
    if released_now:
        await _mark_released(tx, [order["id"] for order in closed])
    await tx.emit_many(
        [
            (
                f"order.{to.value}",
                f"order:{row.order_no}",
                {
                    "order_id": row.id,
                    "order_no": row.order_no,
                    "sale_item_id": row.sale_item_id,
                    "quantity": row.quantity,
                    "units_returned": row.quantity,
                },
            )
            for row in moved
        ]
    )
    for order in closed:
        order["released_now"] = released_now
    return closed


async def _mark_released(tx: Tx, order_ids: Sequence[str]) -> None:
    await tx.conn.execute(orders.update().where(orders.c.id.in_(order_ids)).values(stock_released_at=tx.now))


async def _close(ctx: Context, order_id: str, to: OrderStatus, *, buyer_id: int | None = None) -> bool:
    """Move one pending order to ``to`` and return its units. False when someone else moved it first."""
    async with ctx.transaction() as tx:
        order = await close_within(ctx, tx, order_id, to, buyer_id=buyer_id)
    if order is None:
        return False
    if not order["released_now"]:
        await release_after_commit(ctx, [order])
    return True


async def _close_batch(ctx: Context, where: Sequence[sa.ColumnElement[bool]], to: OrderStatus) -> int:
    """One transaction that closes the pending orders matching ``where``, then their release."""
    async with ctx.transaction() as tx:
        closed = await close_many_within(ctx, tx, where, to)
    await release_after_commit(ctx, [order for order in closed if not order["released_now"]])
    return len(closed)


async def release_after_commit(ctx: Context, closed: Sequence[Mapping[str, Any]]) -> None:
    """Second half of a release for engines outside the database. If this fails or the process dies
    here, ``finish_interrupted_releases`` does it later; the engine's marker makes it happen once."""
    assert ctx.stock is not None
    if not closed:
        return
    try:
        await ctx.stock.release_after(closed)
    except Exception:
        log.exception("release of %d order(s) interrupted; the worker will retry", len(closed))
        return
    async with ctx.transaction() as tx:
        await _mark_released(tx, [order["id"] for order in closed])


async def cancel_by_buyer(ctx: Context, buyer_id: int, order_no: str) -> dict[str, Any]:
    async with ctx.read() as conn:
        row = (
            await conn.execute(
                sa.select(orders.c.id, orders.c.status).where(
                    orders.c.order_no == order_no, orders.c.buyer_id == buyer_id
                )
            )
        ).first()
    if row is None:
        raise NotFound(f"order {order_no} not found", code="order_not_found")
    if not await _close(ctx, row.id, OrderStatus.CANCELLED, buyer_id=buyer_id):
        async with ctx.read() as conn:
            status = await conn.scalar(sa.select(orders.c.status).where(orders.c.id == row.id))
        check_cancellable_by_buyer(OrderStatus(str(status)))
    view = await get_for_buyer(ctx, buyer_id, order_no)
    if ctx.buy_path is not None:  # this process learns at once; the others by the engine's restock news
        ctx.buy_path.board.clear(view["sale_item_id"])
    return view


EXPIRY_BATCH = 1_000  # orders per expiring transaction
EXPIRY_BATCHES_PER_PASS = 20  # then the worker's other jobs get their turn
EXPIRY_PASS_LIMIT = EXPIRY_BATCH * EXPIRY_BATCHES_PER_PASS


async def expire_unpaid_orders(
    ctx: Context, *, batch: int = EXPIRY_BATCH, max_batches: int = EXPIRY_BATCHES_PER_PASS
) -> int:
    """Expire pending orders past their deadline, oldest deadline first, ``batch`` per transaction
    (one UPDATE, one outbox insert, one stock release), until none is due or ``max_batches`` were
    done; return how many this call expired.

    Safe to run in several workers at once: each batch locks the orders it takes and skips those
    another sweeper (or a payment being settled) holds, so each order is moved, and its units
    returned, by exactly one of them. On SQLite writers take turns, which gives the same."""
    expired = 0
    for _ in range(max_batches):
        async with ctx.transaction() as tx:
            # Two statements, not UPDATE ... WHERE id IN (SELECT ... LIMIT ... FOR UPDATE): PostgreSQL
            # may evaluate such a subquery more than once, and in our tests it then moved more than
            # ``batch`` orders in one statement.
            due = (
                await tx.conn.scalars(
                    sa.select(orders.c.id)
                    .where(
                        orders.c.status == OrderStatus.PENDING_PAYMENT.value,
                        orders.c.payment_deadline <= tx.now,
                    )
                    .order_by(orders.c.payment_deadline)
                    .limit(batch)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            closed = (
                await close_many_within(ctx, tx, [orders.c.id.in_(due)], OrderStatus.EXPIRED) if due else []
            )
        await release_after_commit(ctx, [order for order in closed if not order["released_now"]])
        expired += len(closed)
        if len(due) < batch:
            break
    return expired


async def finish_interrupted_releases(ctx: Context, *, batch: int = 500) -> int:
    """Return the units of closed orders whose release a crash interrupted (engine outside the DB)."""
    async with ctx.read() as conn:
        rows = (
            await conn.execute(
                sa.select(orders.c.id, orders.c.sale_item_id, orders.c.buyer_id, orders.c.quantity)
                .where(
                    orders.c.status.in_([OrderStatus.EXPIRED.value, OrderStatus.CANCELLED.value]),
                    orders.c.stock_released_at.is_(None),
                )
                .limit(batch)
            )
        ).all()
    await release_after_commit(ctx, [dict(row._mapping) for row in rows])
    return len(rows)


async def cancel_pending_of_event(ctx: Context, event_id: int, *, batch: int = 500) -> int:
    """Cancel every unpaid order of a called-off sale (after the event itself is cancelled, so no new
    ones come), ``batch`` per transaction. A payment that still arrives for one of them is refunded."""
    async with ctx.read() as conn:
        pending = (
            await conn.scalars(
                sa.select(orders.c.id).where(
                    orders.c.event_id == event_id, orders.c.status == OrderStatus.PENDING_PAYMENT.value
                )
            )
        ).all()
    cancelled = 0
    for start in range(0, len(pending), batch):
        chunk = pending[start : start + batch]
        cancelled += await _close_batch(ctx, [orders.c.id.in_(chunk)], OrderStatus.CANCELLED)
    return cancelled
