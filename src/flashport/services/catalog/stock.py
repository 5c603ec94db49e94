"""Stock per SKU and warehouse: what a supplier counts (``on_hand``) and what flash-sale items have
taken from it (``allotted``, moved by the event services). ``on_hand`` never drops below ``allotted``.

Concurrency: the row is locked (``FOR UPDATE`` on PostgreSQL; SQLite serialises writers with BEGIN
IMMEDIATE), and the UPDATE itself carries ``allotted <= :on_hand``, so even a writer that slipped past
the lock cannot leave promised units uncounted. A first count of a pair inserts the row; two first
counts racing meet ``ON CONFLICT DO NOTHING`` and the loser updates the winner's row instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from flashport.adapters.db.schema import stock, warehouses
from flashport.domain import catalog as rules
from flashport.domain.accounts import Principal
from flashport.services.catalog.reference import fetch_one
from flashport.services.catalog.skus import sku_for
from flashport.services.context import Context, Tx


async def set_on_hand(
    ctx: Context, who: Principal, sku_id: int, warehouse_id: int, on_hand: int
) -> dict[str, Any]:
    """Record a stock count. Setting the value already stored changes nothing and emits no event."""
    async with ctx.transaction() as tx:
        sku = await sku_for(tx.conn, who, sku_id)
        warehouse = await fetch_one(tx.conn, warehouses, warehouse_id, what="warehouse")
        row = await _locked_row(tx.conn, sku_id, warehouse_id)
        if row is None:
            first = rules.set_on_hand(rules.StockLevel(0, 0), on_hand)
            if await _insert_level(tx, sku_id, warehouse_id, on_hand):
                await _emit(tx, sku, warehouse_id, rules.StockLevel(0, 0), first)
                return _view(sku_id, warehouse, first, tx.now)
            row = await _locked_row(tx.conn, sku_id, warehouse_id)  # a concurrent first count won
            assert row is not None
        level = rules.StockLevel(row.on_hand, row.allotted)
        new = rules.set_on_hand(level, on_hand)
        if new == level:
            return _view(sku_id, warehouse, level, row.updated_at)
        allotted = await tx.conn.scalar(
            stock.update()
            .where(_pair(sku_id, warehouse_id), stock.c.allotted <= on_hand)
            .values(on_hand=on_hand, updated_at=tx.now)
            .returning(stock.c.allotted)
        )
        if allotted is None:
            raise rules.stock_below_allotted(on_hand, level.allotted)
        new = rules.StockLevel(on_hand, allotted)
        await _emit(tx, sku, warehouse_id, level, new)
    return _view(sku_id, warehouse, new, tx.now)


async def stock_of(ctx: Context, who: Principal, sku_id: int) -> list[dict[str, Any]]:
    """The SKU's stock in every warehouse that has a row for it, by warehouse id."""
    query = (
        sa.select(stock, warehouses.c.id, warehouses.c.code, warehouses.c.kind)
        .join(warehouses, warehouses.c.id == stock.c.warehouse_id)
        .where(stock.c.sku_id == sku_id)
        .order_by(stock.c.warehouse_id)
    )
    async with ctx.read() as conn:
        await sku_for(conn, who, sku_id)
        rows = (await conn.execute(query)).all()
    return [
        _view(sku_id, dict(row._mapping), rules.StockLevel(row.on_hand, row.allotted), row.updated_at)
        for row in rows
    ]


def _pair(sku_id: int, warehouse_id: int) -> sa.ColumnElement[bool]:
    return sa.and_(stock.c.sku_id == sku_id, stock.c.warehouse_id == warehouse_id)


async def _locked_row(conn: AsyncConnection, sku_id: int, warehouse_id: int) -> sa.Row[Any] | None:
    return (await conn.execute(sa.select(stock).where(_pair(sku_id, warehouse_id)).with_for_update())).first()


async def _insert_level(tx: Tx, sku_id: int, warehouse_id: int, on_hand: int) -> bool:
    """Insert the pair's first row; False when another transaction inserted it first."""
    dialect = postgresql if tx.conn.dialect.name == "postgresql" else sqlite
    statement = (
        dialect.insert(stock)
        .values(sku_id=sku_id, warehouse_id=warehouse_id, on_hand=on_hand, allotted=0, updated_at=tx.now)
        .on_conflict_do_nothing()
        .returning(stock.c.sku_id)
    )
    return (await tx.conn.execute(statement)).first() is not None


async def _emit(
    tx: Tx, sku: dict[str, Any], warehouse_id: int, before: rules.StockLevel, after: rules.StockLevel
) -> None:
    payload = {
        "sku_id": sku["id"],
        "warehouse_id": warehouse_id,
        "supplier_id": sku["supplier_id"],
        "on_hand": after.on_hand,
        "allotted": after.allotted,
        "previous_on_hand": before.on_hand,
    }
    await tx.emit("stock.changed", f"stock:{sku['id']}:{warehouse_id}", payload)


def _view(
    sku_id: int, warehouse: Mapping[str, Any], level: rules.StockLevel, updated_at: datetime
) -> dict[str, Any]:
    """``warehouse`` is any mapping with the warehouse's ``id``, ``code`` and ``kind``."""
    return {
        "sku_id": sku_id,
        "warehouse_id": warehouse["id"],
        "warehouse_code": warehouse["code"],
        "warehouse_kind": warehouse["kind"],
        "on_hand": level.on_hand,
        "allotted": level.allotted,
        "free": level.free,
        "updated_at": updated_at,
    }
