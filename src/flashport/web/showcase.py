"""What the storefront's pages show, assembled from the event services and cached per process.

Statuses are derived again at each render from the clock (the cached data may be up to a second old),
so a page loaded just after a sale opens never shows it as upcoming.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flashport.domain.errors import NotFound
from flashport.domain.sales import EventStatus, all_sold_out, derive_status
from flashport.services.context import Context
from flashport.services.orders.views import OrderView
from flashport.services.sales import inventory
from flashport.services.sales import queries as sale_queries
from flashport.web.page_models import EventCard, EventPage, Picture, ShownItem
from flashport.web.state import Storefront

FALLBACK_IMAGE = "/static/demo/product.svg"


async def listings(ctx: Context, sf: Storefront) -> list[EventCard]:
    """Live and upcoming events as home-page cards."""
    return await sf.listings.get("all", lambda: _load_listings(ctx))


async def event_page(ctx: Context, sf: Storefront, event_id: int) -> EventPage:
    return await sf.event_pages.get(event_id, lambda: _load_event(ctx, event_id))


async def item_page(ctx: Context, sf: Storefront, item_id: int) -> tuple[EventPage, ShownItem]:
    """The item and its event; an item no longer in its event is unknown."""
    event_id = await sf.item_events.get(item_id, lambda: sale_queries.event_of_item(ctx, item_id))
    event = await event_page(ctx, sf, event_id)
    item = event.shown_item(item_id)
    if item is None:
        raise NotFound(f"sale item {item_id} does not exist", code="sale_item_not_found")
    return event, item


async def live_counts(ctx: Context, sf: Storefront, event_id: int) -> dict[str, Any]:
    """Fresh units left per item, as the JSON the open pages poll: one stock-engine read per event per
    ``LIVE_TTL`` in this process."""
    return await sf.live_counts.get(event_id, lambda: _load_live(ctx, sf, event_id))


def current_status(
    event: EventPage | EventCard, now: datetime, remaining: list[int] | None = None
) -> EventStatus:
    left = remaining if remaining is not None else [item.remaining for item in event.items]
    return derive_status(event.state, event.starts_at, event.ends_at, now, all_sold_out(left))


def split_listings(cards: list[EventCard], now: datetime) -> tuple[list[EventCard], list[EventCard]]:
    """Cards of live events (soonest to end first) and of upcoming ones (soonest to start first)."""
    live, upcoming = [], []
    for card in cards:
        status = current_status(card, now)
        if status is EventStatus.LIVE:
            live.append(card)
        elif status is EventStatus.SCHEDULED:
            upcoming.append(card)
    return sorted(live, key=lambda c: c.ends_at), sorted(upcoming, key=lambda c: c.starts_at)


def all_reserved(event: EventPage | EventCard, now: datetime) -> bool:
    """Every unit of a started sale is reserved (or paid) before its end: not over, since the units of
    orders left unpaid come back on sale when their payment windows close."""
    return current_status(event, now) is EventStatus.ENDED and event.starts_at <= now < event.ends_at


async def reserved_listings(ctx: Context, sf: Storefront) -> list[tuple[EventCard, datetime | None]]:
    """Cards of the fully reserved sales (:func:`all_reserved`), soonest to end first, each with when
    its reserved units may come back (:func:`units_back_at`): one query per such sale, none while no
    sale is fully reserved. The list itself is cached like the home page's."""
    now = ctx.clock()
    cards = await sf.listings.get("reserved", lambda: _load_reserved(ctx))
    found = sorted((card for card in cards if all_reserved(card, now)), key=lambda c: c.ends_at)
    return [
        (card, await units_back_at(ctx, card, EventStatus.ENDED, [item.id for item in card.items]))
        for card in found
    ]


async def units_back_at(
    ctx: Context, event: EventPage | EventCard, status: EventStatus, item_ids: list[int]
) -> datetime | None:
    """When reserved units of these items may come back on sale: the first unpaid order's payment
    deadline, if it falls before the sale ends; None otherwise (or when the sale is over)."""
    now = ctx.clock()
    if status not in (EventStatus.LIVE, EventStatus.ENDED) or now >= event.ends_at:
        return None
    found = await sale_queries.next_release(ctx, item_ids)
    return found if found is not None and found < event.ends_at else None


def sale_state(status: EventStatus, item: ShownItem) -> str:
    """What the buy button says: ``upcoming``, ``live``, ``sold_out`` or ``ended``."""
    if status is EventStatus.SCHEDULED:
        return "upcoming"
    if item.sold_out:
        return "sold_out"
    return "live" if status is EventStatus.LIVE else "ended"


async def _load_listings(ctx: Context) -> list[EventCard]:
    events = await sale_queries.list_public_events(ctx)
    facts = await sale_queries.item_facts(ctx, [item.id for event in events for item in event.items])
    return [EventCard.with_facts(event, facts) for event in events]


async def _load_reserved(ctx: Context) -> list[EventCard]:
    events = await sale_queries.list_fully_reserved_events(ctx)
    facts = await sale_queries.item_facts(ctx, [item.id for event in events for item in event.items])
    return [EventCard.with_facts(event, facts) for event in events]


async def _load_event(ctx: Context, event_id: int) -> EventPage:
    event = await sale_queries.get_public_event(ctx, event_id)
    facts = await sale_queries.item_facts(ctx, [item.id for item in event.items])
    return EventPage.with_facts(event, facts)


async def _load_live(ctx: Context, sf: Storefront, event_id: int) -> dict[str, Any]:
    event = await event_page(ctx, sf, event_id)
    left = await inventory.remaining(ctx, event.items)
    counts = [left.get(item.id, 0) for item in event.items]
    return {
        "event_id": event_id,
        "status": current_status(event, ctx.clock(), counts).value,
        "items": [
            {"id": item.id, "remaining": units, "sold_out": units == 0}
            for item, units in zip(event.items, counts, strict=True)
        ],
    }


async def order_pictures(
    ctx: Context, sf: Storefront, orders: list[OrderView], *, chinese: bool = False
) -> dict[str, Picture]:
    """Per order number: the item's picture, alt text and brand (as Chinese readers see them when
    ``chinese``), from the cached event pages."""
    pictures: dict[str, Picture] = {}
    for order in orders:
        try:
            event = await event_page(ctx, sf, order.event_id)
        except NotFound:  # a cancelled event is no longer shown; its orders still are
            continue
        item = event.shown_item(order.sale_item_id)
        if item is not None:
            pictures[order.order_no] = _picture(item, chinese)
    return pictures


async def line_pictures(
    ctx: Context, sf: Storefront, orders: list[OrderView], *, chinese: bool = False
) -> dict[tuple[str, int], Picture]:
    """Per (order number, sale item) of each line of a checked-out basket's order: that line's own
    item's picture (an order's ``sale_item_id`` is its first line's only). Items and their events come
    from the page caches; a line whose sale is no longer shown has none."""
    pictures: dict[tuple[str, int], Picture] = {}
    for order in orders:
        if len(order.lines) < 2:
            continue
        for line in order.lines:
            try:
                _, item = await item_page(ctx, sf, line.sale_item_id)
            except NotFound:
                continue
            pictures[(order.order_no, line.sale_item_id)] = _picture(item, chinese)
    return pictures


def _picture(item: ShownItem, chinese: bool) -> Picture:
    item = item.in_chinese() if chinese else item
    image = item.images[0] if item.images else FALLBACK_IMAGE
    return Picture(src=image, alt=item.alt, brand=item.brand)
