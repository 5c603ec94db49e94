"""Events and items as callers see them: stored rows plus what follows from the clock and the stock engine
(derived status, units remaining, discount, fulfilment mode).

The stock engine is asked only while this process holds no database connection: the SQL engine opens
its own, and on SQLite a second connection would wait for the first one's write lock forever.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from flashport.domain.catalog import WarehouseKind
from flashport.domain.sales import (
    EventState,
    all_sold_out,
    derive_status,
    discount_percent,
    fulfilment_for,
)
from flashport.services.context import Context
from flashport.services.sales import inventory
from flashport.services.sales.store import fetch_event, fetch_items


async def describe(
    ctx: Context, events: Sequence[dict[str, Any]], items: Sequence[dict[str, Any]], now: datetime
) -> list[dict[str, Any]]:
    """Each event with ``status``, ``item_count``, ``max_discount_percent`` and its ``items``.

    Remaining units come from :func:`inventory.remaining` (one call for all items), never from the row
    counters, so the stock engine's live counts decide what is sold out. Call it with no connection open.
    """
    left = await inventory.remaining(ctx, items)
    by_event: dict[int, list[dict[str, Any]]] = {event["id"]: [] for event in events}
    for item in items:
        by_event[item["event_id"]].append(_item_view(item, left[item["id"]]))
    return [_event_view(event, by_event[event["id"]], now) for event in events]


async def event_view(ctx: Context, event_id: int) -> dict[str, Any]:
    """One described event, in any state, with its items, as of ``ctx.clock()``."""
    async with ctx.read() as conn:
        event = await fetch_event(conn, event_id)
        items = await fetch_items(conn, [event_id])
    return (await describe(ctx, [event], items, ctx.clock()))[0]


def pick_item(event: dict[str, Any], item_id: int) -> dict[str, Any]:
    """One item of a described event, with the event's status beside it."""
    item = next(item for item in event["items"] if item["id"] == item_id)
    return {**item, "event_status": event["status"]}


def _item_view(item: dict[str, Any], remaining: int) -> dict[str, Any]:
    return {
        **item,
        "remaining": remaining,
        "sold_out": remaining == 0,
        "discount_percent": discount_percent(item["original_price_fen"], item["sale_price_fen"]),
        "fulfilment": fulfilment_for(WarehouseKind(item["warehouse_kind"])),
    }


def _event_view(event: dict[str, Any], items: list[dict[str, Any]], now: datetime) -> dict[str, Any]:
    status = derive_status(
        EventState(event["state"]),
        event["starts_at"],
        event["ends_at"],
        now,
        all_sold_out([item["remaining"] for item in items]),
    )
    return {
        **event,
        "status": status,
        "items": items,
        "item_count": len(items),
        "max_discount_percent": max((item["discount_percent"] for item in items), default=None),
    }
