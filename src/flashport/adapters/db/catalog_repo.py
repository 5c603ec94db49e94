"""SQL for the catalog reference data and products: brands, suppliers, warehouses, products and SKUs.

Every function takes a connection that the caller's transaction owns and never commits. Reads return the
dataclasses of :mod:`flashport.domain.catalog_entities`, or None where the row does not exist: what a
missing row means (404, or a refusal with its own code) is the services' call. Writes take values the
domain rules have already validated. Stock levels are in :mod:`flashport.adapters.db.stock_repo`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from flashport.adapters.db.schema import brands, products, skus, suppliers, warehouses
from flashport.domain.catalog import TaxCategory, WarehouseKind
from flashport.domain.catalog_entities import Brand, Page, Product, Sku, Supplier, Warehouse

T = TypeVar("T")


# --- building entities from rows --------------------------------------------------------------------


def _brand(row: Mapping[Any, Any]) -> Brand:
    return Brand(**row)


def _supplier(row: Mapping[Any, Any]) -> Supplier:
    return Supplier(**row)


def _warehouse(row: Mapping[Any, Any]) -> Warehouse:
    return Warehouse(**{**row, "kind": WarehouseKind(row["kind"])})


def _product(row: Mapping[Any, Any]) -> Product:
    return Product(
        **{**row, "images": tuple(row["images"]), "tax_category": TaxCategory(row["tax_category"])}
    )


def _sku(row: Mapping[Any, Any], supplier_id: int) -> Sku:
    return Sku(**{**row, "supplier_id": supplier_id})


# --- shared shapes of query -------------------------------------------------------------------------


async def _one(conn: AsyncConnection, table: sa.Table, row_id: int) -> Mapping[Any, Any] | None:
    row = (await conn.execute(sa.select(table).where(table.c.id == row_id))).first()
    return None if row is None else row._mapping


async def _page(
    conn: AsyncConnection,
    query: sa.Select[Any],
    build: Callable[[Mapping[Any, Any]], T],
    *,
    limit: int,
    offset: int,
) -> Page[T]:
    """One page of ``query`` (which must be ordered); one extra row tells whether more follow."""
    rows = (await conn.execute(query.limit(limit + 1).offset(offset))).all()
    return Page(tuple(build(r._mapping) for r in rows[:limit]), limit, offset, len(rows) > limit)


async def _taken(
    conn: AsyncConnection,
    column: sa.Column[Any],
    value: str,
    *,
    other_than: int | None = None,
    any_case: bool = False,
) -> bool:
    """Whether another row already holds ``value``. With ``any_case`` (names people type, few rows)
    "NIVEA" clashes with "Nivea"; codes compare exactly, so the unique index serves the check."""
    same = sa.func.lower(column) == value.lower() if any_case else column == value
    query = sa.select(column.table.c.id).where(same).limit(1)
    if other_than is not None:
        query = query.where(column.table.c.id != other_than)
    return await conn.scalar(query) is not None


async def _insert(conn: AsyncConnection, table: sa.Table, values: Mapping[str, Any]) -> int:
    return int(await conn.scalar(table.insert().values(**values).returning(table.c.id)))


# --- brands -----------------------------------------------------------------------------------------


async def find_brand(conn: AsyncConnection, brand_id: int) -> Brand | None:
    row = await _one(conn, brands, brand_id)
    return None if row is None else _brand(row)


async def brands_page(conn: AsyncConnection, *, limit: int, offset: int) -> Page[Brand]:
    return await _page(conn, sa.select(brands).order_by(brands.c.id), _brand, limit=limit, offset=offset)


async def brand_name_taken(conn: AsyncConnection, name: str, *, other_than: int | None = None) -> bool:
    return await _taken(conn, brands.c.name, name, other_than=other_than, any_case=True)


async def insert_brand(conn: AsyncConnection, record: Mapping[str, Any], now: datetime) -> Brand:
    values = {**record, "created_at": now}
    return _brand({"id": await _insert(conn, brands, values), **values})


async def update_brand(conn: AsyncConnection, brand_id: int, changes: Mapping[str, Any]) -> None:
    await conn.execute(brands.update().where(brands.c.id == brand_id).values(**changes))


# --- suppliers --------------------------------------------------------------------------------------


async def find_supplier(conn: AsyncConnection, supplier_id: int) -> Supplier | None:
    row = await _one(conn, suppliers, supplier_id)
    return None if row is None else _supplier(row)


async def suppliers_page(conn: AsyncConnection, *, limit: int, offset: int) -> Page[Supplier]:
    query = sa.select(suppliers).order_by(suppliers.c.id)
    return await _page(conn, query, _supplier, limit=limit, offset=offset)


async def supplier_name_taken(conn: AsyncConnection, name: str) -> bool:
    return await _taken(conn, suppliers.c.name, name, any_case=True)


async def insert_supplier(conn: AsyncConnection, record: Mapping[str, Any], now: datetime) -> Supplier:
    values = {**record, "created_at": now}
    return _supplier({"id": await _insert(conn, suppliers, values), **values})


# --- warehouses -------------------------------------------------------------------------------------


async def find_warehouse(conn: AsyncConnection, warehouse_id: int) -> Warehouse | None:
    row = await _one(conn, warehouses, warehouse_id)
    return None if row is None else _warehouse(row)


async def warehouses_page(conn: AsyncConnection, *, limit: int, offset: int) -> Page[Warehouse]:
    query = sa.select(warehouses).order_by(warehouses.c.id)
    return await _page(conn, query, _warehouse, limit=limit, offset=offset)


async def warehouse_code_taken(conn: AsyncConnection, code: str) -> bool:
    return await _taken(conn, warehouses.c.code, code)


async def insert_warehouse(conn: AsyncConnection, record: Mapping[str, Any], now: datetime) -> Warehouse:
    values = {**record, "created_at": now}
    return _warehouse({"id": await _insert(conn, warehouses, values), **values})


# --- products ---------------------------------------------------------------------------------------


async def find_product(conn: AsyncConnection, product_id: int) -> Product | None:
    row = await _one(conn, products, product_id)
    return None if row is None else _product(row)


async def products_page(
    conn: AsyncConnection, *, supplier_id: int | None, brand_id: int | None, limit: int, offset: int
) -> Page[Product]:
    """Products in id order, of one supplier and/or one brand when given."""
    query = sa.select(products).order_by(products.c.id)
    if supplier_id is not None:
        query = query.where(products.c.supplier_id == supplier_id)
    if brand_id is not None:
        query = query.where(products.c.brand_id == brand_id)
    return await _page(conn, query, _product, limit=limit, offset=offset)


async def insert_product(conn: AsyncConnection, values: Mapping[str, Any], now: datetime) -> Product:
    """``values`` are a validated product record with its ``brand_id`` and ``supplier_id``."""
    stamped = {**values, "created_at": now, "updated_at": now}
    return _product({"id": await _insert(conn, products, stamped), **stamped})


async def update_product(
    conn: AsyncConnection, product_id: int, changes: Mapping[str, Any], now: datetime
) -> None:
    values = dict(changes)
    if "images" in values:  # a JSON array, whatever sequence the caller holds
        values["images"] = list(values["images"])
    await conn.execute(products.update().where(products.c.id == product_id).values(**values, updated_at=now))


# --- SKUs -------------------------------------------------------------------------------------------


async def find_sku(conn: AsyncConnection, sku_id: int) -> Sku | None:
    """The SKU with its product's ``supplier_id``."""
    query = sa.select(skus, products.c.supplier_id).join(products).where(skus.c.id == sku_id)
    row = (await conn.execute(query)).first()
    if row is None:
        return None
    return Sku(**row._mapping)


async def skus_of(conn: AsyncConnection, product: Product) -> list[Sku]:
    """The product's SKUs in id order."""
    query = sa.select(skus).where(skus.c.product_id == product.id).order_by(skus.c.id)
    return [_sku(r._mapping, product.supplier_id) for r in await conn.execute(query)]


async def sku_code_taken(conn: AsyncConnection, code: str, *, other_than: int | None = None) -> bool:
    return await _taken(conn, skus.c.code, code, other_than=other_than)


async def insert_sku(
    conn: AsyncConnection, product: Product, record: Mapping[str, Any], now: datetime
) -> Sku:
    """Insert a validated SKU record of ``product``."""
    values = {"product_id": product.id, **record, "created_at": now, "updated_at": now}
    return _sku({"id": await _insert(conn, skus, values), **values}, product.supplier_id)


async def update_sku(conn: AsyncConnection, sku_id: int, changes: Mapping[str, Any], now: datetime) -> None:
    await conn.execute(skus.update().where(skus.c.id == sku_id).values(**changes, updated_at=now))
