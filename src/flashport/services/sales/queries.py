"""Reading events and items: the public pages buyers browse, and the operators' full view.

Buyers see only announced events (upcoming, live, ended) from their pre-heat on; a draft, a cancelled
event or one whose pre-heat has not come answers 404 to them exactly as an unknown id does. Statuses
are derived at ``ctx.clock()``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from flashport.adapters.db import sales_repo
from flashport.domain.errors import NotFound
from flashport.domain.sale_entities import EventView, ItemFacts, ItemOfEvent, SaleItemView
from flashport.domain.sales import EventStatus, Listing, shown_to_buyers, stored_state
from flashport.services.context import Context
from flashport.services.sales.loading import item_or_404
from flashport.services.sales.views import describe, event_view


async def list_public_events(
    ctx: Context, *, status: Listing | None = None, channel: str | None = None
) -> list[EventView]:
    """Live and/or upcoming events, by start time. Ended ones (by time or sold out) are left out, and
    so are upcoming ones before their pre-heat."""
    now = ctx.clock()
    async with ctx.read() as conn:
        events = await sales_repo.announced_events(conn, now, listing=status, channel=_channel(channel))
        items = await sales_repo.items_of(conn, [event.id for event in events])
    wanted = {status.status} if status else {listing.status for listing in Listing}
    return [view for view in await describe(ctx, events, items, now) if view.status in wanted]


async def list_fully_reserved_events(ctx: Context) -> list[EventView]:
    """Started, unfinished events whose every unit is reserved or paid, by start time. Their status is
    ended, so :func:`list_public_events` leaves them out; the storefront still lists them as "all
    reserved", since the units of orders left unpaid come back on sale until the end."""
    now = ctx.clock()
    async with ctx.read() as conn:
        events = await sales_repo.running_events(conn, now)
        items = await sales_repo.items_of(conn, [event.id for event in events])
    return [view for view in await describe(ctx, events, items, now) if view.status is EventStatus.ENDED]


async def get_public_event(ctx: Context, event_id: int) -> EventView:
    view = await event_view(ctx, event_id)
    if not shown_to_buyers(view.state, view.preheat_at, ctx.clock()):
        raise NotFound(f"event {event_id} does not exist", code="event_not_found")
    return view


async def list_public_items(ctx: Context, event_id: int) -> tuple[SaleItemView, ...]:
    return (await get_public_event(ctx, event_id)).items


async def get_public_item(ctx: Context, item_id: int) -> ItemOfEvent:
    """One item of an announced event, with the event's status."""
    async with ctx.read() as conn:
        item = await item_or_404(conn, item_id)
    view = await event_view(ctx, item.event_id)
    if not shown_to_buyers(view.state, view.preheat_at, ctx.clock()):
        raise NotFound(f"sale item {item_id} does not exist", code="sale_item_not_found")
    return view.item(item_id)


async def list_admin_events(
    ctx: Context, *, status: EventStatus | None = None, channel: str | None = None
) -> list[EventView]:
    """Every event, in any state, by start time; optionally only those with this derived status."""
    now = ctx.clock()
    state = None if status is None else stored_state(status)
    async with ctx.read() as conn:
        events = await sales_repo.all_events(conn, state=state, channel=_channel(channel))
        items = await sales_repo.items_of(conn, [event.id for event in events])
    views = await describe(ctx, events, items, now)
    return [view for view in views if status is None or view.status is status]


async def get_admin_event(ctx: Context, event_id: int) -> EventView:
    """The event in any state, with its items including reserved and sold units."""
    return await event_view(ctx, event_id)


async def event_of_item(ctx: Context, item_id: int) -> int:
    """The id of the event the item belongs to, in any state."""
    async with ctx.read() as conn:
        event_id = await sales_repo.event_of_item(conn, item_id)
    if event_id is None:
        raise NotFound(f"sale item {item_id} does not exist", code="sale_item_not_found")
    return event_id


async def next_release(ctx: Context, item_ids: Sequence[int]) -> datetime | None:
    """When the first unpaid order of these items closes its payment window (its units then return to
    sale), or None when no unpaid order holds any."""
    async with ctx.read() as conn:
        found = await sales_repo.next_release(conn, item_ids)
    return None if found is None else found.replace(tzinfo=found.tzinfo or UTC)


async def item_facts(ctx: Context, item_ids: Sequence[int]) -> dict[int, ItemFacts]:
    """Per sale item: its product's description and origin, and its SKU's spec (what a shop window
    shows beside the sale terms). Unknown ids are left out."""
    if not item_ids:
        return {}
    async with ctx.read() as conn:
        return await sales_repo.item_facts(conn, item_ids)


def _channel(channel: str | None) -> str | None:
    """Channels are stored trimmed and lower-case; no channel (None or "") means every channel."""
    return channel.strip().lower() if channel else None
