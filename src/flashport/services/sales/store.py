"""The SQL that the event services share: loading events and items, and moving stock allotments.

Every function here takes a connection that the caller's transaction owns; none commits.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from flashport.adapters.db.schema import brands, products, sale_events, sale_items, skus, stock, warehouses
from flashport.domain.errors import Conflict, NotFound
from flashport.domain.sales import EventState, check_editable, status_by_clock

ITEM_VIEW = (
    sa.select(
        sale_items.c.id,
        sale_items.c.event_id,
        sale_items.c.sku_id,
        sale_items.c.warehouse_id,
        sale_items.c.sale_price_fen,
        sale_items.c.quantity,
        sale_items.c.per_buyer_limit,
        sale_items.c.reserved,
        sale_items.c.sold,
        skus.c.title,
        skus.c.original_price_fen,
        products.c.title.label("product_title"),
        products.c.images,
        brands.c.name.label("brand"),
        brands.c.country.label("brand_country"),
        warehouses.c.kind.label("warehouse_kind"),
    )
    .select_from(
        sale_items.join(skus, skus.c.id == sale_items.c.sku_id)
        .join(products, products.c.id == skus.c.product_id)
        .join(brands, brands.c.id == products.c.brand_id)
        .join(warehouses, warehouses.c.id == sale_items.c.warehouse_id)
    )
    .order_by(sale_items.c.event_id, sale_items.c.id)
)


async def fetch_event(conn: AsyncConnection, event_id: int, *, lock: bool = False) -> dict[str, Any]:
    """The event row. ``lock`` holds it until commit (PostgreSQL), so commands on one event serialise;
    SQLite needs no row lock because BEGIN IMMEDIATE already serialises every writer."""
    query = sa.select(sale_events).where(sale_events.c.id == event_id)
    if lock:
        query = query.with_for_update()
    row = (await conn.execute(query)).first()
    if row is None:
        raise NotFound(f"event {event_id} does not exist", code="event_not_found")
    return dict(row._mapping)


async def fetch_editable(
    conn: AsyncConnection, event_id: int, now: datetime
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The event, locked, and its items, provided they may still change (draft, or not yet started)."""
    event = await fetch_event(conn, event_id, lock=True)
    check_editable(status_by_clock(EventState(event["state"]), event["starts_at"], event["ends_at"], now))
    return event, await fetch_items(conn, [event_id])


async def fetch_events(conn: AsyncConnection, query: sa.Select[Any]) -> list[dict[str, Any]]:
    rows = await conn.execute(query.order_by(sale_events.c.starts_at, sale_events.c.id))
    return [dict(r._mapping) for r in rows]


async def fetch_items(conn: AsyncConnection, event_ids: Sequence[int]) -> list[dict[str, Any]]:
    """Items of these events with their SKU, product, brand and warehouse facts, in event and id order."""
    if not event_ids:
        return []
    rows = await conn.execute(ITEM_VIEW.where(sale_items.c.event_id.in_(event_ids)))
    return [dict(r._mapping) for r in rows]


async def fetch_item(conn: AsyncConnection, item_id: int, *, event_id: int | None = None) -> dict[str, Any]:
    """One item; with ``event_id``, an item of another event counts as unknown."""
    query = ITEM_VIEW.where(sale_items.c.id == item_id)
    if event_id is not None:
        query = query.where(sale_items.c.event_id == event_id)
    row = (await conn.execute(query)).first()
    if row is None:
        raise NotFound(f"sale item {item_id} does not exist", code="sale_item_not_found")
    return dict(row._mapping)


async def sku_price(conn: AsyncConnection, sku_id: int) -> int:
    """The SKU's original price in fen, the base of the price band."""
    price = await conn.scalar(sa.select(skus.c.original_price_fen).where(skus.c.id == sku_id))
    if price is None:
        raise NotFound(f"SKU {sku_id} does not exist", code="sku_not_found")
    return int(price)


async def check_warehouse(conn: AsyncConnection, warehouse_id: int) -> None:
    found = await conn.scalar(sa.select(warehouses.c.id).where(warehouses.c.id == warehouse_id))
    if found is None:
        raise NotFound(f"warehouse {warehouse_id} does not exist", code="warehouse_not_found")


async def allot(conn: AsyncConnection, sku_id: int, warehouse_id: int, units: int, now: datetime) -> None:
    """Take ``units`` from the free stock of one warehouse, or refuse without changing anything.

    The condition sits in the UPDATE itself, so concurrent allotments from the same row can never
    exceed it: PostgreSQL re-checks the condition after waiting for the row lock, SQLite runs one
    writer at a time.
    """
    taken = await conn.execute(
        stock.update()
        .where(
            stock.c.sku_id == sku_id,
            stock.c.warehouse_id == warehouse_id,
            stock.c.on_hand - stock.c.allotted >= units,
        )
        .values(allotted=stock.c.allotted + units, updated_at=now)
    )
    if taken.rowcount == 1:
        return
    free = await conn.scalar(
        sa.select(stock.c.on_hand - stock.c.allotted).where(
            stock.c.sku_id == sku_id, stock.c.warehouse_id == warehouse_id
        )
    )
    if free is None:
        raise NotFound(f"SKU {sku_id} has no stock in warehouse {warehouse_id}", code="stock_not_found")
    raise Conflict(
        f"only {free} units of SKU {sku_id} are free in warehouse {warehouse_id}; {units} were asked for",
        code="insufficient_stock",
    )


async def release(conn: AsyncConnection, returns: Iterable[tuple[int, int, int]], now: datetime) -> None:
    """Give allotted units back to free stock; ``returns`` holds (sku_id, warehouse_id, units).

    Rows are updated in key order so that two releases touching the same rows cannot deadlock.
    """
    for sku_id, warehouse_id, units in sorted(returns):
        if units <= 0:
            continue
        await conn.execute(
            stock.update()
            .where(stock.c.sku_id == sku_id, stock.c.warehouse_id == warehouse_id)
            .values(allotted=stock.c.allotted - units, updated_at=now)
        )
