"""Stock per SKU and warehouse: what a supplier counts (``on_hand``) and what flash-sale items have
taken from it (``allotted``, moved by the sale services). ``on_hand`` never drops below ``allotted``.

Concurrency: the row is locked (``FOR UPDATE`` on PostgreSQL; SQLite serialises writers with BEGIN
IMMEDIATE), and the UPDATE itself carries ``allotted <= :on_hand``, so even a writer that slipped past
the lock cannot leave promised units uncounted. A first count of a pair inserts the row; two first
counts racing meet ``ON CONFLICT DO NOTHING`` and the loser updates the winner's row instead.
"""

from __future__ import annotations

from datetime import datetime

from flashport.adapters.db import catalog_repo, stock_repo
from flashport.domain import catalog as rules
from flashport.domain.accounts import Principal
from flashport.domain.catalog_entities import Sku, StockEntry, Warehouse
from flashport.services.catalog.reference import found
from flashport.services.catalog.skus import sku_for
from flashport.services.context import Context, Tx


async def set_on_hand(
    ctx: Context, who: Principal, sku_id: int, warehouse_id: int, on_hand: int
) -> StockEntry:
    """Record a stock count. Setting the value already stored changes nothing and emits no event."""
    async with ctx.transaction() as tx:
        sku = await sku_for(tx.conn, who, sku_id)
        warehouse = found(await catalog_repo.find_warehouse(tx.conn, warehouse_id), "warehouse", warehouse_id)
        stored = await stock_repo.locked_level(tx.conn, sku_id, warehouse_id)
        if stored is None:
            first = rules.set_on_hand(rules.StockLevel(0, 0), on_hand)
            if await stock_repo.insert_first_level(tx.conn, sku_id, warehouse_id, on_hand, tx.now):
                await _emit(tx, sku, warehouse_id, rules.StockLevel(0, 0), first)
                return _entry(sku_id, warehouse, first, tx.now)
            stored = await stock_repo.locked_level(
                tx.conn, sku_id, warehouse_id
            )  # a concurrent first count won
            assert stored is not None
        level, updated_at = stored
        new = rules.set_on_hand(level, on_hand)
        if new == level:
            return _entry(sku_id, warehouse, level, updated_at)
        allotted = await stock_repo.set_on_hand(tx.conn, sku_id, warehouse_id, on_hand, tx.now)
        if allotted is None:
            raise rules.stock_below_allotted(on_hand, level.allotted)
        new = rules.StockLevel(on_hand, allotted)
        await _emit(tx, sku, warehouse_id, level, new)
    return _entry(sku_id, warehouse, new, tx.now)


async def stock_of(ctx: Context, who: Principal, sku_id: int) -> list[StockEntry]:
    """The SKU's stock in every warehouse that has a row for it, by warehouse id."""
    async with ctx.read() as conn:
        await sku_for(conn, who, sku_id)
        return await stock_repo.entries_of(conn, sku_id)


async def _emit(
    tx: Tx, sku: Sku, warehouse_id: int, before: rules.StockLevel, after: rules.StockLevel
) -> None:
    payload = {
        "sku_id": sku.id,
        "warehouse_id": warehouse_id,
        "supplier_id": sku.supplier_id,
        "on_hand": after.on_hand,
        "allotted": after.allotted,
        "previous_on_hand": before.on_hand,
    }
    await tx.emit("stock.changed", f"stock:{sku.id}:{warehouse_id}", payload)


def _entry(sku_id: int, warehouse: Warehouse, level: rules.StockLevel, updated_at: datetime) -> StockEntry:
    return StockEntry(
        sku_id=sku_id,
        warehouse_id=warehouse.id,
        warehouse_code=warehouse.code,
        warehouse_kind=warehouse.kind,
        on_hand=level.on_hand,
        allotted=level.allotted,
        updated_at=updated_at,
    )
