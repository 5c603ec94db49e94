"""The basket (issue 18): units of live sales reserved one at a time, held together for one window.

Adding a unit is a purchase of one unit on the buy path's own terms: the same stock engine call (rules
1, 2 and 4 in one atomic step), the same per-buyer limit, the same Idempotency-Key. The order that holds
it has the basket's hold as its deadline, so the expiry sweep returns every unit exactly once (rule 5)
when the hold ends, and removing a unit is that order's cancel.

Before reserving, the add claims room in the buyer's basket row (one warehouse, goods within the
single-transaction limit), locked, so two concurrent adds of one buyer cannot both pass the checks.
If the reservation is then refused, the room is given back. A crash between the two leaves the room
claiming a unit it does not hold: the basket takes less than it could until its hold ends, never more.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from datetime import datetime

from flashport.adapters.db import basket_repo, orders_repo
from flashport.adapters.db.basket_repo import HeldUnit
from flashport.adapters.stock.interface import PlacementKind
from flashport.domain.basket import claim, give_back, seconds_left
from flashport.domain.errors import Conflict, InvalidInput, NotFound
from flashport.domain.orders import (
    OrderStatus,
    RejectReason,
    check_cancellable_by_buyer,
    check_idempotency_key,
    check_same_request,
    draft_order,
    sale_window_reason,
)
from flashport.services.context import Context
from flashport.services.orders import lifecycle
from flashport.services.sales.buying import rejection
from flashport.services.waiting_room import queue


@dataclass(frozen=True)
class BasketView:
    """The buyer's basket now. ``hold_until`` and ``seconds_left`` are None when it is empty."""

    units: list[HeldUnit]
    goods_fen: int
    hold_until: datetime | None
    seconds_left: int | None
    limit_fen: int | None


@dataclass(frozen=True)
class BasketAdd:
    basket: BasketView
    order_no: str  # the order holding the unit just added
    created: bool  # False: a retry with the same Idempotency-Key, nothing more reserved


async def view(ctx: Context, buyer_id: int) -> BasketView:
    now = ctx.clock()
    async with ctx.read() as conn:
        units = await basket_repo.held_units(conn, buyer_id, now)
    limit = ctx.buy_path.single_limit
    hold = units[0].hold_until if units else None
    return BasketView(
        units,
        sum(u.unit_price_fen for u in units),
        hold,
        None if hold is None else seconds_left(hold, now),
        None if limit is None else limit.limit_fen,
    )


async def add(
    ctx: Context, buyer_id: int, item_id: int, key: str | None, admission: str | None = None
) -> BasketAdd:
    """Reserve one unit of a live sale item into the buyer's basket; a retry with the same ``key``
    answers with the unit the first call added and reserves nothing. A hot item (one with a waiting
    room) needs the buyer's admission token here as on the buy path: the basket is no way round the
    queue."""
    key = check_idempotency_key(key)
    deadline = ctx.settings.buy_deadline_seconds
    await queue.require_admission(ctx, buyer_id, item_id, admission, deadline)
    async with ctx.read() as conn:
        earlier = await orders_repo.find_by_key(conn, buyer_id, key)
    if earlier is not None:
        return await _again(ctx, buyer_id, earlier.id, item_id)
    path = ctx.buy_path
    terms = await path.terms(item_id, deadline)
    if terms is None:
        raise rejection(RejectReason.UNKNOWN_ITEM)
    now = ctx.clock()
    reason = sale_window_reason(terms, now)
    if reason is not None:
        raise rejection(reason)
    if path.board.is_sold_out(item_id):
        raise rejection(RejectReason.SOLD_OUT)
    draft = draft_order(terms, buyer_id, 1, key, now, ctx.settings.payment_window)
    hold = await _claim_room(ctx, buyer_id, item_id, terms.sale_price_fen, draft.id)
    draft = replace(draft, payment_deadline=hold)
    try:
        placement = await path.stock.place(draft)
    except BaseException:
        await _give_room_back(ctx, buyer_id, draft.id, terms.sale_price_fen, hold)
        raise
    if placement.kind is not PlacementKind.CREATED:
        await _give_room_back(ctx, buyer_id, draft.id, terms.sale_price_fen, hold)
        if placement.kind is PlacementKind.DUPLICATE:  # a concurrent retry with this key won the race
            assert placement.order_id is not None
            return await _again(ctx, buyer_id, placement.order_id, item_id)
        assert placement.reason is not None
        if placement.reason is RejectReason.SOLD_OUT:
            path.board.mark(item_id)
        raise rejection(placement.reason)
    if placement.remaining == 0:
        path.board.mark(item_id)
    return BasketAdd(await view(ctx, buyer_id), draft.order_no, created=True)


async def _claim_room(ctx: Context, buyer_id: int, item_id: int, price_fen: int, order_id: str) -> datetime:
    """Claim room for one unit and note the unit, in one short transaction; return the basket's hold."""
    limit = ctx.buy_path.single_limit
    async with ctx.transaction() as tx:
        warehouse_id = await basket_repo.warehouse_of(tx.conn, item_id)
        if warehouse_id is None:
            raise rejection(RejectReason.UNKNOWN_ITEM)
        room = claim(
            await basket_repo.lock_room(tx.conn, buyer_id),
            now=tx.now,
            window=ctx.settings.payment_window,
            warehouse_id=warehouse_id,
            price_fen=price_fen,
            limit_fen=None if limit is None else limit.limit_fen,
            extras_fen=0 if limit is None else limit.extras_fen,
        )
        await basket_repo.save_room(tx.conn, buyer_id, room)
        await basket_repo.add_unit(tx.conn, order_id, buyer_id, item_id, price_fen, tx.now, room.hold_until)
    return room.hold_until


async def _give_room_back(ctx: Context, buyer_id: int, order_id: str, price_fen: int, hold: datetime) -> None:
    async with ctx.transaction() as tx:
        room = await basket_repo.lock_room(tx.conn, buyer_id)
        if room is not None and room.hold_until == hold:  # the same basket, not a newer one
            await basket_repo.save_room(tx.conn, buyer_id, give_back(room, price_fen))
        await basket_repo.drop_unit(tx.conn, order_id)


async def _again(ctx: Context, buyer_id: int, order_id: str, item_id: int) -> BasketAdd:
    """The answer to a retry: the unit the first add with this key put in the basket. With Redis, that
    add may still be group-committing its order, so wait briefly for the row, as the buy path does."""
    for _ in range(50):
        async with ctx.read() as conn:
            order = await orders_repo.load_order(conn, order_id)
            in_basket = order is not None and await basket_repo.is_basket_order(conn, order_id)
        if order is not None:
            break
        await asyncio.sleep(0.1)
    else:
        raise Conflict(
            "an earlier request with this Idempotency-Key is still being processed; retry shortly",
            code="idempotency_key_in_progress",
        )
    if not in_basket:
        raise InvalidInput(
            "this Idempotency-Key was already used for a different purchase",
            code="idempotency_key_reused",
        )
    check_same_request(order["sale_item_id"], order["quantity"], item_id, 1)
    return BasketAdd(await view(ctx, buyer_id), order["order_no"], created=False)


async def remove(ctx: Context, buyer_id: int, order_no: str) -> BasketView:
    """Take a unit out of the basket: its holding order is cancelled and the unit goes back on sale."""
    async with ctx.read() as conn:
        found = await orders_repo.status_for_buyer(conn, buyer_id, order_no)
        in_basket = found is not None and await basket_repo.is_basket_order(conn, found[0])
    if found is None or not in_basket:
        raise NotFound(f"no unit {order_no} in your basket", code="basket_unit_not_found")
    order_id, _ = found
    async with ctx.transaction() as tx:
        closed = await lifecycle.close_within(ctx, tx, order_id, OrderStatus.CANCELLED, buyer_id=buyer_id)
        if closed is not None:
            await basket_repo.mark_removed(tx.conn, order_id, tx.now)
            room = await basket_repo.lock_room(tx.conn, buyer_id)
            price = await basket_repo.unit_price(tx.conn, order_id)
            if room is not None:
                await basket_repo.save_room(tx.conn, buyer_id, give_back(room, price))
    if closed is None:
        async with ctx.read() as conn:
            status = await orders_repo.status_of(conn, order_id)
        check_cancellable_by_buyer(OrderStatus(str(status)))
    else:
        await lifecycle.release_after_commit(ctx, closed.owed)
        ctx.buy_path.board.clear(closed.orders[0]["sale_item_id"])
    return await view(ctx, buyer_id)
