"""Loading sale events and items for the sale services: found or 404, and, for commands, locked and
still editable. Each takes a connection that the caller's transaction owns."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from flashport.adapters.db import sales_repo
from flashport.domain.errors import NotFound
from flashport.domain.sale_entities import SaleEvent, SaleItem
from flashport.domain.sales import check_editable, status_by_clock


async def event_or_404(conn: AsyncConnection, event_id: int, *, lock: bool = False) -> SaleEvent:
    """The event; ``lock`` holds its row until commit, so commands on one event serialise."""
    event = await sales_repo.find_event(conn, event_id, lock=lock)
    if event is None:
        raise NotFound(f"event {event_id} does not exist", code="event_not_found")
    return event


async def item_or_404(conn: AsyncConnection, item_id: int, *, event_id: int | None = None) -> SaleItem:
    """One item; with ``event_id``, an item of another event counts as unknown."""
    item = await sales_repo.find_item(conn, item_id, event_id=event_id)
    if item is None:
        raise NotFound(f"sale item {item_id} does not exist", code="sale_item_not_found")
    return item


async def editable_event(
    conn: AsyncConnection, event_id: int, now: datetime
) -> tuple[SaleEvent, list[SaleItem]]:
    """The event, locked, and its items, provided they may still change (draft, or not yet started)."""
    event = await event_or_404(conn, event_id, lock=True)
    check_editable(status_by_clock(event.state, event.starts_at, event.ends_at, now))
    return event, await sales_repo.items_of(conn, [event_id])
