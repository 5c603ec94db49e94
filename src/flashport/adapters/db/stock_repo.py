"""SQL for stock per SKU and warehouse: the counts suppliers record (``on_hand``) and the allotments that
flash-sale items take from them (``allotted``).

Every function takes a connection that the caller's transaction owns and never commits. The conditions
that keep ``allotted`` within ``on_hand`` sit in the UPDATE statements themselves, so concurrent writers
can never break them: PostgreSQL re-checks a condition after waiting for the row lock, and SQLite runs
one writer at a time (BEGIN IMMEDIATE).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from flashport.adapters.db.schema import stock, warehouses
from flashport.domain.catalog import StockLevel, WarehouseKind
from flashport.domain.catalog_entities import StockEntry


def _pair(sku_id: int, warehouse_id: int) -> sa.ColumnElement[bool]:
    return sa.and_(stock.c.sku_id == sku_id, stock.c.warehouse_id == warehouse_id)


async def locked_level(
    conn: AsyncConnection, sku_id: int, warehouse_id: int
) -> tuple[StockLevel, datetime] | None:
    """The pair's level and when it last changed, its row locked until commit (``FOR UPDATE`` on
    PostgreSQL); None when the pair has no row yet."""
    query = sa.select(stock).where(_pair(sku_id, warehouse_id)).with_for_update()
    row = (await conn.execute(query)).first()
    return None if row is None else (StockLevel(row.on_hand, row.allotted), row.updated_at)


async def insert_first_level(
    conn: AsyncConnection, sku_id: int, warehouse_id: int, on_hand: int, now: datetime
) -> bool:
    """Insert the pair's first row, nothing allotted; False when another transaction inserted it first
    (``ON CONFLICT DO NOTHING``), and the caller then updates the winner's row instead."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    statement = (
        dialect.insert(stock)
        .values(sku_id=sku_id, warehouse_id=warehouse_id, on_hand=on_hand, allotted=0, updated_at=now)
        .on_conflict_do_nothing()
        .returning(stock.c.sku_id)
    )
    return (await conn.execute(statement)).first() is not None


async def set_on_hand(
    conn: AsyncConnection, sku_id: int, warehouse_id: int, on_hand: int, now: datetime
) -> int | None:
    """Store a new count unless more than ``on_hand`` units are allotted; the units allotted, or None
    when the count was refused. The condition is in the UPDATE, so even a writer that slipped past the
    row lock cannot leave promised units uncounted."""
    allotted = await conn.scalar(
        stock.update()
        .where(_pair(sku_id, warehouse_id), stock.c.allotted <= on_hand)
        .values(on_hand=on_hand, updated_at=now)
        .returning(stock.c.allotted)
    )
    return None if allotted is None else int(allotted)


async def entries_of(conn: AsyncConnection, sku_id: int) -> list[StockEntry]:
    """The SKU's stock in every warehouse that has a row for it, by warehouse id."""
    query = (
        sa.select(stock, warehouses.c.code, warehouses.c.kind)
        .join(warehouses, warehouses.c.id == stock.c.warehouse_id)
        .where(stock.c.sku_id == sku_id)
        .order_by(stock.c.warehouse_id)
    )
    return [
        StockEntry(
            sku_id=row.sku_id,
            warehouse_id=row.warehouse_id,
            warehouse_code=row.code,
            warehouse_kind=WarehouseKind(row.kind),
            on_hand=row.on_hand,
            allotted=row.allotted,
            updated_at=row.updated_at,
        )
        for row in await conn.execute(query)
    ]


async def allot(conn: AsyncConnection, sku_id: int, warehouse_id: int, units: int, now: datetime) -> bool:
    """Take ``units`` from the pair's free stock (``on_hand - allotted``); False, changing nothing,
    when fewer are free or the pair has no row."""
    taken = await conn.execute(
        stock.update()
        .where(_pair(sku_id, warehouse_id), stock.c.on_hand - stock.c.allotted >= units)
        .values(allotted=stock.c.allotted + units, updated_at=now)
    )
    return taken.rowcount == 1


async def free_units(conn: AsyncConnection, sku_id: int, warehouse_id: int) -> int | None:
    """Units of the pair not allotted, or None when the pair has no row."""
    free = await conn.scalar(sa.select(stock.c.on_hand - stock.c.allotted).where(_pair(sku_id, warehouse_id)))
    return None if free is None else int(free)


async def release(conn: AsyncConnection, returns: Iterable[tuple[int, int, int]], now: datetime) -> None:
    """Give allotted units back to free stock; ``returns`` holds (sku_id, warehouse_id, units).

    Rows are updated in key order so that two releases touching the same rows cannot deadlock.
    """
    for sku_id, warehouse_id, units in sorted(returns):
        if units <= 0:
            continue
        await conn.execute(
            stock.update()
            .where(_pair(sku_id, warehouse_id))
            .values(allotted=stock.c.allotted - units, updated_at=now)
        )
