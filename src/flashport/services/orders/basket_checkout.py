"""Checking a basket out: its units become one order of several lines, one payment and one parcel.

In one transaction, the basket's holding orders (one unit each, pending, inside the hold) are folded
into a new order whose lines are their units, one line per item with the quantities summed, and whose
deadline is the basket's hold. The holding orders leave ``pending_payment`` for ``merged`` (pointing at
the new order) without returning their units: the stock engines' counters do not move at all, the
units are simply held by the new order's lines from then on. From there the order goes the way of any
order: checkout (identity, consignee, tax), payment, expiry or cancellation, each of which confirms or
returns every line's units exactly once (``orders_repo.per_line``).

Races are decided by the holding orders' status: the fold moves only those still pending (one
conditional UPDATE after locking them in id order), so a unit the expiry sweep or a removal took first
is returned by them and is not in the order, and a unit the fold took is never returned by them. The
buyer's Idempotency-Key is written first in the same transaction: a second checkout with the same key
waits for the first and answers with its order; a checkout with another key finds nothing left to fold.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from flashport.adapters.db import basket_repo, orders_repo
from flashport.domain.basket import HeldUnits, empty_basket, fold, give_back
from flashport.domain.money import format_fen
from flashport.domain.orders import check_idempotency_key, new_order_no
from flashport.services.context import Context, Tx
from flashport.services.orders.views import OrderView, order_of


@dataclass(frozen=True)
class BasketCheckout:
    order: OrderView
    created: bool  # False: a retry with the same Idempotency-Key, answered with the first order


class _KeyTaken(Exception):
    """A checkout with this key committed while ours was starting: ours rolls back, theirs answers."""


async def check_out_basket(ctx: Context, buyer_id: int, key: str | None) -> BasketCheckout:
    """Fold the buyer's basket into one pending order; a retry with the same ``key`` answers with that
    order and folds nothing more. ``409 basket_empty`` when nothing is left to fold."""
    key = check_idempotency_key(key)
    async with ctx.read() as conn:
        earlier = await basket_repo.checkout_by_key(conn, buyer_id, key)
    if earlier is not None:
        return BasketCheckout(await _view(ctx, earlier), created=False)
    try:
        order_id = await _fold(ctx, buyer_id, key)
    except _KeyTaken:
        async with ctx.read() as conn:
            earlier = await basket_repo.checkout_by_key(conn, buyer_id, key)
        assert earlier is not None  # the conflicting row is committed
        return BasketCheckout(await _view(ctx, earlier), created=False)
    return BasketCheckout(await _view(ctx, order_id), created=True)


async def _fold(ctx: Context, buyer_id: int, key: str) -> str:
    order_id = str(uuid.uuid4())
    async with ctx.transaction() as tx:
        if not await basket_repo.record_checkout_key(tx.conn, buyer_id, key, order_id, tx.now):
            raise _KeyTaken
        held = await basket_repo.lock_held(tx.conn, buyer_id, tx.now)
        moved = await basket_repo.merge(tx.conn, [h.order_id for h in held], order_id, tx.now)
        taken = {holding_id for holding_id, _, _ in moved}
        held = [h for h in held if h.order_id in taken]
        if not held:
            raise empty_basket()
        order = orders_repo.FoldedOrder(
            id=order_id,
            order_no=new_order_no(tx.now),
            buyer_id=buyer_id,
            fulfilment=held[0].fulfilment,
            lines=fold(held),
            created_at=tx.now,
            payment_deadline=min(deadline for _, _, deadline in moved),  # the basket's hold
        )
        await orders_repo.insert_folded(tx.conn, order)
        await _empty_room(tx, buyer_id, held, order.payment_deadline)
        await tx.emit_many(_events(order, {h: no for h, no, _ in moved}, held))
    return order_id


async def _empty_room(tx: Tx, buyer_id: int, held: Sequence[HeldUnits], hold: datetime) -> None:
    """Give the folded units' room back, so the basket shows empty and the next add starts anew. A unit
    an add claimed meanwhile (not folded) keeps its room."""
    room = await basket_repo.lock_room(tx.conn, buyer_id)
    if room is None or room.hold_until != hold:
        return
    for unit in held:
        room = give_back(room, unit.unit_price_fen)
    await basket_repo.save_room(tx.conn, buyer_id, room)


def _events(
    order: orders_repo.FoldedOrder, order_nos: dict[str, str], held: Sequence[HeldUnits]
) -> list[tuple[str, str, dict[str, object]]]:
    """One ``order.merged`` per holding order, then the new order's ``order.created`` (rule 9)."""
    merged: list[tuple[str, str, dict[str, object]]] = [
        (
            "order.merged",
            f"order:{order_nos[h.order_id]}",
            {
                "order_id": h.order_id,
                "order_no": order_nos[h.order_id],
                "merged_into": order.order_no,
                "sale_item_id": h.item_id,
                "quantity": h.quantity,
            },
        )
        for h in held
    ]
    first = order.lines[0]
    created = {
        "order_id": order.id,
        "order_no": order.order_no,
        "buyer_id": order.buyer_id,
        "event_id": first.event_id,
        "sale_item_id": first.item_id,
        "sku_id": first.sku_id,
        "quantity": order.units,
        "total": format_fen(order.goods_value_fen),
        "payment_deadline": order.payment_deadline.isoformat(),
        "lines": [
            {"line_no": ln.line_no, "sale_item_id": ln.item_id, "sku_id": ln.sku_id, "quantity": ln.quantity}
            for ln in order.lines
        ],
        "merged": [order_nos[h.order_id] for h in held],
    }
    return [*merged, ("order.created", f"order:{order.order_no}", created)]


async def _view(ctx: Context, order_id: str) -> OrderView:
    async with ctx.read() as conn:
        order = await orders_repo.load_order(conn, order_id)
    assert order is not None  # written and committed before this is asked
    return order_of(order)
