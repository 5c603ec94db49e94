"""SQL for sale events and their items: loading them with their catalog facts, writing the operators'
changes, and the few counts the sale services need from orders.

Every function takes a connection that the caller's transaction owns and never commits. Reads return the
dataclasses of :mod:`flashport.domain.sale_entities`, or None where the row does not exist: what a
missing row means is the services' call. The stock allotments that items take are moved by
:mod:`flashport.adapters.db.stock_repo`, in the same transaction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from flashport.adapters.db.schema import (
    brands,
    order_lines,
    orders,
    products,
    sale_events,
    sale_items,
    skus,
    suppliers,
    warehouses,
)
from flashport.domain.catalog import WarehouseKind
from flashport.domain.sale_entities import ItemFacts, SaleEvent, SaleItem
from flashport.domain.sales import EventState, Listing

_ITEMS = (
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


def _event(row: Mapping[Any, Any]) -> SaleEvent:
    return SaleEvent(**{**row, "state": EventState(row["state"])})


def _item(row: Mapping[Any, Any]) -> SaleItem:
    return SaleItem(
        **{**row, "images": tuple(row["images"]), "warehouse_kind": WarehouseKind(row["warehouse_kind"])}
    )


# --- events -----------------------------------------------------------------------------------------


async def find_event(conn: AsyncConnection, event_id: int, *, lock: bool = False) -> SaleEvent | None:
    """The event. ``lock`` holds its row until commit (PostgreSQL), so commands on one event serialise;
    SQLite needs no row lock because BEGIN IMMEDIATE already serialises every writer."""
    query = sa.select(sale_events).where(sale_events.c.id == event_id)
    if lock:
        query = query.with_for_update()
    row = (await conn.execute(query)).first()
    return None if row is None else _event(row._mapping)


async def announced_events(
    conn: AsyncConnection, now: datetime, *, listing: Listing | None, channel: str | None
) -> list[SaleEvent]:
    """Scheduled events not yet over at ``now`` and past their pre-heat (if they have one), by start
    time: only those on now (``LIVE``) or yet to start (``UPCOMING``) when ``listing`` says so, of one
    channel when given."""
    query = sa.select(sale_events).where(
        sale_events.c.state == EventState.SCHEDULED.value,
        sale_events.c.ends_at > now,
        sa.or_(sale_events.c.preheat_at.is_(None), sale_events.c.preheat_at <= now),
    )
    if listing is Listing.LIVE:
        query = query.where(sale_events.c.starts_at <= now)
    elif listing is Listing.UPCOMING:
        query = query.where(sale_events.c.starts_at > now)
    return await _events(conn, query, channel)


async def all_events(
    conn: AsyncConnection, *, state: EventState | None, channel: str | None
) -> list[SaleEvent]:
    """Every event, or those in one stored state, of one channel when given, by start time."""
    query = sa.select(sale_events)
    if state is not None:
        query = query.where(sale_events.c.state == state.value)
    return await _events(conn, query, channel)


async def running_events(conn: AsyncConnection, now: datetime) -> list[SaleEvent]:
    """Scheduled events whose window holds ``now`` (live, or ended early by selling out), by start time."""
    query = sa.select(sale_events).where(
        sale_events.c.state == EventState.SCHEDULED.value,
        sale_events.c.starts_at <= now,
        sale_events.c.ends_at > now,
    )
    return await _events(conn, query, None)


async def _events(conn: AsyncConnection, query: sa.Select[Any], channel: str | None) -> list[SaleEvent]:
    if channel is not None:
        query = query.where(sale_events.c.channel == channel)
    rows = await conn.execute(query.order_by(sale_events.c.starts_at, sale_events.c.id))
    return [_event(r._mapping) for r in rows]


async def insert_event(conn: AsyncConnection, values: Mapping[str, Any], now: datetime) -> int:
    """A new draft event from validated ``values``; its id."""
    statement = (
        sale_events.insert()
        .values(**values, state=EventState.DRAFT.value, created_at=now, updated_at=now)
        .returning(sale_events.c.id)
    )
    return int(await conn.scalar(statement))


async def update_event(
    conn: AsyncConnection, event_id: int, changes: Mapping[str, Any], now: datetime
) -> None:
    await conn.execute(
        sale_events.update().where(sale_events.c.id == event_id).values(**changes, updated_at=now)
    )


async def set_state(conn: AsyncConnection, event_id: int, state: EventState, now: datetime) -> None:
    await update_event(conn, event_id, {"state": state.value}, now)


# --- items ------------------------------------------------------------------------------------------


async def items_of(conn: AsyncConnection, event_ids: Sequence[int]) -> list[SaleItem]:
    """Items of these events with their catalog facts, in event and id order."""
    if not event_ids:
        return []
    rows = await conn.execute(_ITEMS.where(sale_items.c.event_id.in_(event_ids)))
    return [_item(r._mapping) for r in rows]


async def find_item(conn: AsyncConnection, item_id: int, *, event_id: int | None = None) -> SaleItem | None:
    """One item; with ``event_id``, an item of another event is not found."""
    query = _ITEMS.where(sale_items.c.id == item_id)
    if event_id is not None:
        query = query.where(sale_items.c.event_id == event_id)
    row = (await conn.execute(query)).first()
    return None if row is None else _item(row._mapping)


async def event_of_item(conn: AsyncConnection, item_id: int) -> int | None:
    event_id = await conn.scalar(sa.select(sale_items.c.event_id).where(sale_items.c.id == item_id))
    return None if event_id is None else int(event_id)


async def next_release(conn: AsyncConnection, item_ids: Sequence[int]) -> datetime | None:
    """The earliest payment deadline of the unpaid orders holding units of these items: when reserved
    units may come back on sale. A checked-out basket's order names only its first line's item, so its
    other lines are found through the basket's holding orders folded into it (``merged``, each still
    naming its own item): the index on sale item and status finds both, and no line is scanned."""
    if not item_ids:
        return None
    items = list(item_ids)
    own = sa.select(sa.func.min(orders.c.payment_deadline)).where(
        orders.c.sale_item_id.in_(items), orders.c.status == "pending_payment"
    )
    held = orders.alias("held")
    folded = (
        sa.select(sa.func.min(orders.c.payment_deadline))
        .select_from(held.join(orders, orders.c.id == held.c.merged_into))
        .where(
            held.c.sale_item_id.in_(items),
            held.c.status == "merged",
            orders.c.status == "pending_payment",
        )
    )
    found = [await conn.scalar(query) for query in (own, folded)]
    return min((when for when in found if when is not None), default=None)


async def item_facts(conn: AsyncConnection, item_ids: Sequence[int]) -> dict[int, ItemFacts]:
    """Per sale item found: its product's description, origin country and return exclusions, its
    supplier's name, and its SKU's spec."""
    if not item_ids:
        return {}
    query = (
        sa.select(
            sale_items.c.id,
            products.c.description,
            products.c.origin_country,
            skus.c.spec,
            products.c.title_zh,
            products.c.description_zh,
            brands.c.name_zh.label("brand_zh"),
            products.c.return_exclusions,
            products.c.return_exclusions_zh,
            suppliers.c.name.label("supplier"),
        )
        .select_from(
            sale_items.join(skus, skus.c.id == sale_items.c.sku_id)
            .join(products, products.c.id == skus.c.product_id)
            .join(brands, brands.c.id == products.c.brand_id)
            .join(suppliers, suppliers.c.id == products.c.supplier_id)
        )
        .where(sale_items.c.id.in_(item_ids))
    )
    return {
        row.id: ItemFacts(
            description=row.description,
            origin=row.origin_country,
            spec=row.spec,
            title_zh=row.title_zh,
            description_zh=row.description_zh,
            brand_zh=row.brand_zh,
            return_exclusions=row.return_exclusions,
            return_exclusions_zh=row.return_exclusions_zh,
            supplier=row.supplier,
        )
        for row in await conn.execute(query)
    }


async def insert_item(conn: AsyncConnection, values: Mapping[str, Any], now: datetime) -> int:
    """A new item (event, SKU, warehouse and terms in ``values``); its id."""
    statement = (
        sale_items.insert().values(**values, created_at=now, updated_at=now).returning(sale_items.c.id)
    )
    return int(await conn.scalar(statement))


async def update_item(conn: AsyncConnection, item_id: int, terms: Mapping[str, int], now: datetime) -> None:
    await conn.execute(sale_items.update().where(sale_items.c.id == item_id).values(**terms, updated_at=now))


async def delete_item(conn: AsyncConnection, item_id: int) -> None:
    await conn.execute(sale_items.delete().where(sale_items.c.id == item_id))


async def live_item_ids(conn: AsyncConnection, now: datetime) -> list[int]:
    """Items of the events that are scheduled and within their window at ``now``, by id."""
    query = (
        sa.select(sale_items.c.id)
        .join(sale_events, sale_events.c.id == sale_items.c.event_id)
        .where(
            sale_events.c.state == EventState.SCHEDULED.value,
            sale_events.c.starts_at <= now,
            sale_events.c.ends_at > now,
        )
        .order_by(sale_items.c.id)
    )
    return list((await conn.scalars(query)).all())


async def unended_item_ids(conn: AsyncConnection, now: datetime) -> list[int]:
    """Items of the scheduled events that have not ended at ``now`` (live or still to come), by id."""
    query = (
        sa.select(sale_items.c.id)
        .join(sale_events, sale_events.c.id == sale_items.c.event_id)
        .where(sale_events.c.state == EventState.SCHEDULED.value, sale_events.c.ends_at > now)
        .order_by(sale_items.c.id)
    )
    return list((await conn.scalars(query)).all())


# --- what items draw on -----------------------------------------------------------------------------


async def sku_price(conn: AsyncConnection, sku_id: int) -> int | None:
    """The SKU's original price in fen (the base of the price band), or None for an unknown SKU."""
    price = await conn.scalar(sa.select(skus.c.original_price_fen).where(skus.c.id == sku_id))
    return None if price is None else int(price)


async def warehouse_exists(conn: AsyncConnection, warehouse_id: int) -> bool:
    return await conn.scalar(sa.select(warehouses.c.id).where(warehouses.c.id == warehouse_id)) is not None


async def bonded_registrations(
    conn: AsyncConnection, sku_id: int, warehouse_id: int
) -> tuple[str | None, str | None] | None:
    """For a bonded warehouse: (its area code, the SKU's account-book record number); None for an
    overseas warehouse (or a missing row)."""
    w = warehouses.c
    query = sa.select(w.kind, w.area_code).where(w.id == warehouse_id)
    found = (await conn.execute(query)).first()
    if found is None or found.kind != WarehouseKind.BONDED.value:
        return None
    record_no = await conn.scalar(sa.select(skus.c.item_record_no).where(skus.c.id == sku_id))
    return found.area_code, record_no


async def paid_units(conn: AsyncConnection, item_ids: Sequence[int]) -> dict[int, int]:
    """Units of paid orders per item, for the items that have any."""
    single = (
        sa.select(orders.c.sale_item_id, sa.func.sum(orders.c.quantity))
        .where(orders.c.sale_item_id.in_(item_ids), orders.c.status == "paid", orders.c.line_count == 1)
        .group_by(orders.c.sale_item_id)
    )
    # Checked-out baskets' lines, each on its own item (an operator's cancel reads this, not a buyer).
    lined = (
        sa.select(order_lines.c.sale_item_id, sa.func.sum(order_lines.c.quantity))
        .join(orders, orders.c.id == order_lines.c.order_id)
        .where(order_lines.c.sale_item_id.in_(item_ids), orders.c.status == "paid", orders.c.line_count > 1)
        .group_by(order_lines.c.sale_item_id)
    )
    paid: dict[int, int] = {}
    for query in (single, lined):
        for item_id, units in await conn.execute(query):
            paid[item_id] = paid.get(item_id, 0) + int(units)
    return paid
