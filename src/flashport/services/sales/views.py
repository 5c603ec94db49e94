"""Events and items as callers see them: stored rows plus what follows from the clock and the stock engine
(derived status, units remaining, discount, fulfilment mode).

The stock engine is asked only while this process holds no database connection: the SQL engine opens
its own, and on SQLite a second connection would wait for the first one's write lock forever.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from flashport.adapters.db import sales_repo
from flashport.domain.sale_entities import EventView, SaleEvent, SaleItem, SaleItemView
from flashport.services.context import Context
from flashport.services.sales import inventory
from flashport.services.sales.loading import event_or_404


async def describe(
    ctx: Context, events: Sequence[SaleEvent], items: Sequence[SaleItem], now: datetime
) -> list[EventView]:
    """Each event with its items and its status at ``now``.

    Remaining units come from :func:`inventory.remaining` (one call for all items), never from the row
    counters, so the stock engine's live counts decide what is sold out. Call it with no connection open.
    """
    left = await inventory.remaining(ctx, items)
    by_event: dict[int, list[SaleItemView]] = {event.id: [] for event in events}
    for item in items:
        by_event[item.event_id].append(SaleItemView.of(item, left[item.id]))
    return [EventView.of(event, by_event[event.id], now) for event in events]


async def event_view(ctx: Context, event_id: int) -> EventView:
    """One described event, in any state, with its items, as of ``ctx.clock()``."""
    async with ctx.read() as conn:
        event = await event_or_404(conn, event_id)
        items = await sales_repo.items_of(conn, [event_id])
    return (await describe(ctx, [event], items, ctx.clock()))[0]
