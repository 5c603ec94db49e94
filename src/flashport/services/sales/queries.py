"""Reading events and items: the public pages buyers browse, and the operators' full view.

Buyers see only announced events (upcoming, live, ended); a draft or cancelled event answers 404 to
them exactly as an unknown id does. Statuses are derived at ``ctx.clock()``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from flashport.adapters.db.schema import sale_events
from flashport.domain.errors import NotFound
from flashport.domain.sales import EventState, EventStatus, Listing, is_public, stored_state
from flashport.services.context import Context
from flashport.services.sales.store import fetch_events, fetch_item, fetch_items
from flashport.services.sales.views import describe, event_view, pick_item


async def list_public_events(
    ctx: Context, *, status: Listing | None = None, channel: str | None = None
) -> list[dict[str, Any]]:
    """Live and/or upcoming events, by start time. Ended ones (by time or sold out) are left out."""
    now = ctx.clock()
    query = sa.select(sale_events).where(
        sale_events.c.state == EventState.SCHEDULED.value, sale_events.c.ends_at > now
    )
    if status is Listing.LIVE:
        query = query.where(sale_events.c.starts_at <= now)
    elif status is Listing.UPCOMING:
        query = query.where(sale_events.c.starts_at > now)
    wanted = {status.status} if status else {listing.status for listing in Listing}
    views = await _described(ctx, _in_channel(query, channel), now)
    return [view for view in views if view["status"] in wanted]


async def get_public_event(ctx: Context, event_id: int) -> dict[str, Any]:
    view = await event_view(ctx, event_id)
    if not is_public(EventState(view["state"])):
        raise NotFound(f"event {event_id} does not exist", code="event_not_found")
    return view


async def list_public_items(ctx: Context, event_id: int) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = (await get_public_event(ctx, event_id))["items"]
    return items


async def get_public_item(ctx: Context, item_id: int) -> dict[str, Any]:
    """One item of an announced event, with the event's status."""
    async with ctx.read() as conn:
        item = await fetch_item(conn, item_id)
    view = await event_view(ctx, item["event_id"])
    if not is_public(EventState(view["state"])):
        raise NotFound(f"sale item {item_id} does not exist", code="sale_item_not_found")
    return pick_item(view, item_id)


async def list_admin_events(
    ctx: Context, *, status: EventStatus | None = None, channel: str | None = None
) -> list[dict[str, Any]]:
    """Every event, in any state, by start time; optionally only those with this derived status."""
    now = ctx.clock()
    query = sa.select(sale_events)
    if status is not None:
        query = query.where(sale_events.c.state == stored_state(status).value)
    views = await _described(ctx, _in_channel(query, channel), now)
    return [view for view in views if status is None or view["status"] is status]


async def get_admin_event(ctx: Context, event_id: int) -> dict[str, Any]:
    """The event in any state, with its items including reserved and sold units."""
    return await event_view(ctx, event_id)


def _in_channel(query: sa.Select[Any], channel: str | None) -> sa.Select[Any]:
    if not channel:
        return query
    return query.where(sale_events.c.channel == channel.strip().lower())


async def _described(ctx: Context, query: sa.Select[Any], now: datetime) -> list[dict[str, Any]]:
    async with ctx.read() as conn:
        events = await fetch_events(conn, query)
        items = await fetch_items(conn, [event["id"] for event in events])
    return await describe(ctx, events, items, now)
