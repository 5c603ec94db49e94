"""The waitlist of a sold-out item: one place per buyer, in order of joining. When units come back
(an order expired or was cancelled) the notifier tells as many waiting buyers as units came back,
first come first served (services/notify/queueing.py); the item page shows each buyer their place."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flashport.adapters.db import notify_repo, sales_repo
from flashport.domain.errors import Conflict, NotFound
from flashport.services.context import Context


@dataclass(frozen=True)
class Standing:
    """Where a buyer stands on an item's waitlist."""

    item_id: int
    waiting: bool  # on the list
    ahead: int  # buyers still waiting before them (0: next)
    told_at: datetime | None  # units came back and they were told


async def join(ctx: Context, buyer_id: int, item_id: int) -> Standing:
    """Join the waitlist of a sold-out item of a sale that has not ended. Joining twice keeps the
    first place. 404 no such item; 409 ``not_sold_out`` (buy it instead) or ``sale_over``."""
    async with ctx.transaction() as tx:
        item = await sales_repo.find_item(tx.conn, item_id)
        if item is None:
            raise NotFound(f"sale item {item_id} not found", code="sale_item_not_found")
        event = await sales_repo.find_event(tx.conn, item.event_id)
        if event is None or event.ends_at <= tx.now:
            raise Conflict("this sale has ended: there is no waitlist any more", code="sale_over")
        remaining = (await ctx.stock.remaining([item_id])).get(item_id, 0)
        if remaining > 0:
            raise Conflict(
                f"{remaining} unit(s) are still on sale: buy one instead of waiting", code="not_sold_out"
            )
        await notify_repo.join(tx.conn, item_id, buyer_id, tx.now)
    return await standing(ctx, buyer_id, item_id)


async def leave(ctx: Context, buyer_id: int, item_id: int) -> Standing:
    """Give up the place (joining again goes to the back); leaving a list one is not on is no error."""
    async with ctx.transaction() as tx:
        await notify_repo.leave(tx.conn, item_id, buyer_id)
    return Standing(item_id, False, 0, None)


async def standing(ctx: Context, buyer_id: int, item_id: int) -> Standing:
    async with ctx.read() as conn:
        place = await notify_repo.place_of(conn, item_id, buyer_id)
    if place is None:
        return Standing(item_id, False, 0, None)
    _, told_at, ahead = place
    return Standing(item_id, True, 0 if told_at else ahead, told_at)
