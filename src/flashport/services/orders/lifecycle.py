"""Orders after the buy: reading them, the buyer's cancel, and the payment window's expiry (rule 5).

Closing an order is one conditional UPDATE (``... WHERE status = 'pending_payment'``): of any number of
racing sweepers and cancels, exactly one moves the order, and only that one returns its units.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from flashport.adapters.db import orders_repo
from flashport.domain.errors import NotFound
from flashport.domain.money import format_fen
from flashport.domain.orders import OrderStatus, check_cancellable_by_buyer
from flashport.services.context import Context, Tx
from flashport.services.orders.views import OrderView, order_of

log = logging.getLogger(__name__)


def order_view(order: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON form of a new order, for the buy lanes' answers (the fields of :class:`OrderView`,
    built straight into a dict: it runs for every order bought). Other readers get an :class:`OrderView`."""
    money = {
        k[: -len("_fen")]: format_fen(order[k])
        for k in ("goods_value_fen", "freight_fen", "discount_fen", "tax_fen", "total_fen")
    }
    lines = [
        {
            "line_no": ln["line_no"],
            "sale_item_id": ln.get("sale_item_id"),
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


def _order_not_found(order_no: str) -> NotFound:
    # another buyer's order looks exactly like a missing one
    return NotFound(f"order {order_no} not found", code="order_not_found")


async def get_for_buyer(ctx: Context, buyer_id: int, order_no: str) -> OrderView:
    async with ctx.read() as conn:
        order_id = await orders_repo.id_for_buyer(conn, buyer_id, order_no)
        order = await orders_repo.load_order(conn, order_id) if order_id else None
        if order is None:
            raise _order_not_found(order_no)
        customs = await orders_repo.customs_states(conn, [order["id"]])
    return order_of(order, customs.get(order["id"]))


async def list_for_buyer(ctx: Context, buyer_id: int, *, limit: int = 50) -> list[OrderView]:
    """The buyer's newest ``limit`` orders, newest first."""
    async with ctx.read() as conn:
        ids = await orders_repo.ids_of_buyer(conn, buyer_id, limit)
        loaded = [await orders_repo.load_order(conn, i) for i in ids]
        found = [o for o in loaded if o is not None]
        customs = await orders_repo.customs_states(conn, [o["id"] for o in found])
    return [order_of(o, customs.get(o["id"])) for o in found]


@dataclass(frozen=True)
class ClosedOrders:
    """The orders one transaction moved out of pending payment, in the terms the stock engine's release
    takes (id, order_no, sale_item_id, buyer_id, quantity, event_id, status_before), and whether their
    units were returned in that same transaction."""

    orders: tuple[Mapping[str, Any], ...]  # one per line of an order of several (a checked-out basket)
    released_now: bool

    @property
    def owed(self) -> tuple[Mapping[str, Any], ...]:
        """What :func:`release_after_commit` must still return once the transaction has committed."""
        return () if self.released_now else self.orders

    @property
    def count(self) -> int:
        """How many orders (not lines) were closed."""
        return len({order["id"] for order in self.orders})

    @property
    def item_ids(self) -> list[int]:
        """The items that got units back, each once."""
        return list(dict.fromkeys(order["sale_item_id"] for order in self.orders))


NOTHING_CLOSED = ClosedOrders((), released_now=True)


async def close_within(
    ctx: Context, tx: Tx, order_id: str, to: OrderStatus, *, buyer_id: int | None = None
) -> ClosedOrders | None:
    """Inside ``tx``: move one pending order to ``to`` and return its units (when the stock engine
    lives in the database). None when someone else moved it first. Once ``tx`` has committed, the
    caller must pass the result's ``owed`` to :func:`release_after_commit`."""
    closed = await close_many_within(ctx, tx, [order_id], to, buyer_id=buyer_id)
    return closed if closed.orders else None


async def close_many_within(
    ctx: Context, tx: Tx, order_ids: Sequence[str], to: OrderStatus, *, buyer_id: int | None = None
) -> ClosedOrders:
    """Inside ``tx``: move every pending order of ``order_ids`` to ``to`` in one conditional UPDATE,
    return their units and write one outbox event each. Orders someone else moved first are left
    alone. The result's ``owed`` is what :func:`release_after_commit` must return after commit."""
    stock = ctx.stock
    assert stock is not None
    moved = await orders_repo.close_pending(tx.conn, order_ids, to, tx.now, buyer_id=buyer_id)
    if not moved:
        return NOTHING_CLOSED
    closed = tuple({**row, "status_before": OrderStatus.PENDING_PAYMENT.value} for row in moved)
    released_now = await stock.release_within(tx.conn, closed)
    if released_now:
        await orders_repo.mark_released(tx.conn, _ids(closed), tx.now)
    await tx.emit_many([(f"order.{to.value}", *_closed_event(lines)) for lines in _by_order(closed)])
    return ClosedOrders(closed, released_now)


def _ids(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    return list(dict.fromkeys(row["id"] for row in rows))


def _by_order(rows: Sequence[Mapping[str, Any]]) -> list[list[Mapping[str, Any]]]:
    grouped: dict[str, list[Mapping[str, Any]]] = {}
    for row in rows:
        grouped.setdefault(row["id"], []).append(row)
    return list(grouped.values())


def _closed_event(lines: Sequence[Mapping[str, Any]]) -> tuple[str, dict[str, Any]]:
    """The outbox subject and payload of one closed order: its item and units as before for an order
    of one line; for a checked-out basket, its first line's item, all its units, and every line."""
    first = lines[0]
    units = sum(int(line["quantity"]) for line in lines)
    payload: dict[str, Any] = {
        "order_id": first["id"],
        "order_no": first["order_no"],
        "sale_item_id": first["sale_item_id"],
        "quantity": units,
        "units_returned": units,
    }
    if len(lines) > 1:
        payload["lines"] = [
            {"sale_item_id": line["sale_item_id"], "units_returned": line["quantity"]} for line in lines
        ]
    return f"order:{first['order_no']}", payload


async def _close(ctx: Context, order_id: str, to: OrderStatus, *, buyer_id: int | None = None) -> bool:
    """Move one pending order to ``to`` and return its units. False when someone else moved it first."""
    async with ctx.transaction() as tx:
        closed = await close_within(ctx, tx, order_id, to, buyer_id=buyer_id)
    if closed is None:
        return False
    await release_after_commit(ctx, closed.owed)
    return True


async def _close_batch(ctx: Context, order_ids: Sequence[str], to: OrderStatus) -> int:
    """One transaction that closes the pending orders of ``order_ids``, then their release."""
    async with ctx.transaction() as tx:
        closed = await close_many_within(ctx, tx, order_ids, to)
    await release_after_commit(ctx, closed.owed)
    return closed.count


async def release_after_commit(ctx: Context, closed: Sequence[Mapping[str, Any]]) -> None:
    """Second half of a release for engines outside the database. If this fails or the process dies
    here, ``finish_interrupted_releases`` does it later; the engine's marker makes it happen once."""
    if not closed:
        return
    try:
        await ctx.stock.release_after(closed)
    except Exception:
        log.exception("release of %d order(s) interrupted; the worker will retry", len(closed))
        return
    async with ctx.transaction() as tx:
        await orders_repo.mark_released(tx.conn, _ids(closed), tx.now)


async def cancel_by_buyer(ctx: Context, buyer_id: int, order_no: str) -> OrderView:
    async with ctx.read() as conn:
        found = await orders_repo.status_for_buyer(conn, buyer_id, order_no)
    if found is None:
        raise _order_not_found(order_no)
    order_id, _ = found
    if not await _close(ctx, order_id, OrderStatus.CANCELLED, buyer_id=buyer_id):
        async with ctx.read() as conn:
            status = await orders_repo.status_of(conn, order_id)
        check_cancellable_by_buyer(OrderStatus(str(status)))
    view = await get_for_buyer(ctx, buyer_id, order_no)
    # This process at once; others by the restock news. Every line's item for a basket order.
    for item_id in dict.fromkeys([view.sale_item_id, *(line.sale_item_id for line in view.lines)]):
        ctx.buy_path.board.clear(item_id)
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
            due = await orders_repo.lock_due_for_expiry(tx.conn, tx.now, batch)
            closed = await close_many_within(ctx, tx, due, OrderStatus.EXPIRED) if due else NOTHING_CLOSED
        await release_after_commit(ctx, closed.owed)
        expired += closed.count
        if len(due) < batch:
            break
    return expired


async def finish_interrupted_releases(ctx: Context, *, batch: int = 500) -> int:
    """Return the units of closed orders whose release a crash interrupted (engine outside the DB)."""
    async with ctx.read() as conn:
        owed = await orders_repo.closed_unreleased(conn, batch)
    await release_after_commit(ctx, owed)
    return len(_ids(owed))


async def cancel_pending_of_event(ctx: Context, event_id: int, *, batch: int = 500) -> int:
    """Cancel every unpaid order of a called-off sale (after the event itself is cancelled, so no new
    ones come), ``batch`` per transaction. A payment that still arrives for one of them is refunded."""
    async with ctx.read() as conn:
        pending = await orders_repo.pending_of_event(conn, event_id)
    cancelled = 0
    for start in range(0, len(pending), batch):
        cancelled += await _close_batch(ctx, pending[start : start + batch], OrderStatus.CANCELLED)
    return cancelled
