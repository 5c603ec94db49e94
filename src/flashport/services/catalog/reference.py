"""Catalog reference data that operators curate: brands, suppliers and warehouses.

Each write is one transaction that also appends its outbox event. Duplicates are refused here, before
the insert, with a specific code; the unique constraints stay as the backstop for two racing requests.
Products and SKUs live in ``catalog_products``, stock in ``catalog_stock``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from flashport.adapters.db.schema import brands, suppliers, warehouses
from flashport.domain import catalog as rules
from flashport.domain.accounts import Principal
from flashport.domain.errors import Conflict, NotFound
from flashport.services.context import Context

BRAND_FIELDS = ("name", "country", "description", "logo_url")


async def fetch_one(conn: AsyncConnection, table: sa.Table, row_id: int, *, what: str) -> dict[str, Any]:
    """The row with this id, or NotFound coded ``<what>_not_found``."""
    row = (await conn.execute(sa.select(table).where(table.c.id == row_id))).first()
    if row is None:
        raise NotFound(f"{what} {row_id} does not exist", code=f"{what}_not_found")
    return dict(row._mapping)


async def fetch_page(
    conn: AsyncConnection, query: sa.Select[Any], *, limit: int, offset: int
) -> dict[str, Any]:
    """One page of ``query`` (which must be ordered); one extra row tells whether more follow."""
    limit, offset = rules.page_window(limit, offset)
    rows = [dict(r._mapping) for r in await conn.execute(query.limit(limit + 1).offset(offset))]
    return {"items": rows[:limit], "limit": limit, "offset": offset, "has_more": len(rows) > limit}


async def refuse_taken(
    conn: AsyncConnection,
    column: sa.Column[Any],
    value: str,
    *,
    code: str,
    other_than: int | None = None,
    any_case: bool = False,
) -> None:
    """Conflict when another row already holds ``value``. With ``any_case`` (names people type, few
    rows) "NIVEA" clashes with "Nivea"; codes compare exactly, so the unique index serves the check."""
    same = sa.func.lower(column) == value.lower() if any_case else column == value
    query = sa.select(column.table.c.id).where(same).limit(1)
    if other_than is not None:
        query = query.where(column.table.c.id != other_than)
    if await conn.scalar(query) is not None:
        raise Conflict(f"{value!r} is already taken", code=code)


def merged(stored: Mapping[str, Any], changes: Mapping[str, Any], fields: tuple[str, ...]) -> dict[str, Any]:
    """The editable fields after an update: the changes given, the stored values for the rest."""
    return {name: changes[name] if name in changes else stored[name] for name in fields}


# --- brands ----------------------------------------------------------------------------------------


async def create_brand(ctx: Context, **fields: Any) -> dict[str, Any]:
    record = rules.brand_record(**fields)
    async with ctx.transaction() as tx:
        await refuse_taken(tx.conn, brands.c.name, record["name"], code="brand_name_taken", any_case=True)
        brand_id = await tx.conn.scalar(
            brands.insert().values(**record, created_at=tx.now).returning(brands.c.id)
        )
        payload = {"brand_id": brand_id, "name": record["name"], "country": record["country"]}
        await tx.emit("brand.created", f"brand:{brand_id}", payload)
    return {"id": brand_id, **record, "created_at": tx.now}


async def update_brand(ctx: Context, brand_id: int, changes: Mapping[str, Any]) -> dict[str, Any]:
    async with ctx.transaction() as tx:
        stored = await fetch_one(tx.conn, brands, brand_id, what="brand")
        changed = rules.changed_fields(stored, rules.brand_record(**merged(stored, changes, BRAND_FIELDS)))
        if not changed:
            return stored
        if "name" in changed:
            name = changed["name"]
            await refuse_taken(
                tx.conn, brands.c.name, name, code="brand_name_taken", other_than=brand_id, any_case=True
            )
        await tx.conn.execute(brands.update().where(brands.c.id == brand_id).values(**changed))
        payload = {"brand_id": brand_id, "changed": sorted(changed), **changed}
        await tx.emit("brand.updated", f"brand:{brand_id}", payload)
    return {**stored, **changed}


async def get_brand(ctx: Context, brand_id: int) -> dict[str, Any]:
    async with ctx.read() as conn:
        return await fetch_one(conn, brands, brand_id, what="brand")


async def list_brands(ctx: Context, *, limit: int, offset: int) -> dict[str, Any]:
    async with ctx.read() as conn:
        return await fetch_page(conn, sa.select(brands).order_by(brands.c.id), limit=limit, offset=offset)


# --- suppliers -------------------------------------------------------------------------------------


async def create_supplier(ctx: Context, **fields: Any) -> dict[str, Any]:
    record = rules.supplier_record(**fields)
    async with ctx.transaction() as tx:
        await refuse_taken(
            tx.conn, suppliers.c.name, record["name"], code="supplier_name_taken", any_case=True
        )
        supplier_id = await tx.conn.scalar(
            suppliers.insert().values(**record, created_at=tx.now).returning(suppliers.c.id)
        )
        payload = {"supplier_id": supplier_id, "name": record["name"], "country": record["country"]}
        await tx.emit("supplier.created", f"supplier:{supplier_id}", payload)
    return {"id": supplier_id, **record, "created_at": tx.now}


async def get_supplier(ctx: Context, who: Principal, supplier_id: int) -> dict[str, Any]:
    """Operators see every supplier; a supplier user only its own."""
    who.require_supplier_scope(supplier_id)
    async with ctx.read() as conn:
        return await fetch_one(conn, suppliers, supplier_id, what="supplier")


async def list_suppliers(ctx: Context, *, limit: int, offset: int) -> dict[str, Any]:
    query = sa.select(suppliers).order_by(suppliers.c.id)
    async with ctx.read() as conn:
        return await fetch_page(conn, query, limit=limit, offset=offset)


# --- warehouses ------------------------------------------------------------------------------------


async def create_warehouse(ctx: Context, **fields: Any) -> dict[str, Any]:
    record = rules.warehouse_record(**fields)
    async with ctx.transaction() as tx:
        await refuse_taken(tx.conn, warehouses.c.code, record["code"], code="warehouse_code_taken")
        warehouse_id = await tx.conn.scalar(
            warehouses.insert().values(**record, created_at=tx.now).returning(warehouses.c.id)
        )
        payload = {
            "warehouse_id": warehouse_id,
            "code": record["code"],
            "kind": record["kind"].value,
            "customs_district": record["customs_district"],
            "country": record["country"],
        }
        await tx.emit("warehouse.created", f"warehouse:{warehouse_id}", payload)
    return {"id": warehouse_id, **record, "created_at": tx.now}


async def get_warehouse(ctx: Context, warehouse_id: int) -> dict[str, Any]:
    async with ctx.read() as conn:
        return await fetch_one(conn, warehouses, warehouse_id, what="warehouse")


async def list_warehouses(ctx: Context, *, limit: int, offset: int) -> dict[str, Any]:
    query = sa.select(warehouses).order_by(warehouses.c.id)
    async with ctx.read() as conn:
        return await fetch_page(conn, query, limit=limit, offset=offset)
