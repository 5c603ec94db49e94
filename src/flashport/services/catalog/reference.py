"""Catalog reference data that operators curate: brands, suppliers and warehouses.

Each write is one transaction that also appends its outbox event. Duplicates are refused here, before
the insert, with a specific code; the unique constraints stay as the backstop for two racing requests.
Products and SKUs live in ``catalog.products`` and ``catalog.skus``, stock in ``catalog.stock``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, replace
from typing import Any, TypeVar

from flashport.adapters.db import catalog_repo as repo
from flashport.ceb.codes import CUSTOMS_COUNTRY_CODES
from flashport.domain import catalog as rules
from flashport.domain.accounts import Principal
from flashport.domain.catalog_entities import Brand, Page, Supplier, Warehouse
from flashport.domain.errors import Conflict, NotFound
from flashport.services.context import Context

T = TypeVar("T")

BRAND_FIELDS = ("name", "country", "description", "logo_url", "name_zh", "description_zh")


def found(entity: T | None, what: str, entity_id: int, *, noun: str | None = None) -> T:
    """``entity``, or NotFound coded ``<what>_not_found`` when the repository found nothing."""
    if entity is None:
        raise NotFound(
            f"{noun or what} {entity_id} does not exist", code=f"{what}_not_found", facts={"id": entity_id}
        )
    return entity


def refuse_taken(taken: bool, value: str, *, code: str) -> None:
    if taken:
        raise Conflict(f"{value!r} is already taken", code=code, facts={"value": value})


def merged(stored: object, changes: Mapping[str, Any], fields: tuple[str, ...]) -> dict[str, Any]:
    """The editable fields after an update: the changes given, the stored values for the rest."""
    return {name: changes[name] if name in changes else getattr(stored, name) for name in fields}


def changed_fields(stored: Any, record: Mapping[str, Any]) -> dict[str, Any]:
    """The part of ``record`` that differs from the ``stored`` entity: what an update really writes."""
    return rules.changed_fields(asdict(stored), record)


# --- brands ----------------------------------------------------------------------------------------


async def create_brand(ctx: Context, **fields: Any) -> Brand:
    record = rules.brand_record(**fields)
    async with ctx.transaction() as tx:
        refuse_taken(
            await repo.brand_name_taken(tx.conn, record["name"]), record["name"], code="brand_name_taken"
        )
        brand = await repo.insert_brand(tx.conn, record, tx.now)
        payload = {"brand_id": brand.id, "name": brand.name, "country": brand.country}
        await tx.emit("brand.created", f"brand:{brand.id}", payload)
    return brand


async def update_brand(ctx: Context, brand_id: int, changes: Mapping[str, Any]) -> Brand:
    async with ctx.transaction() as tx:
        stored = found(await repo.find_brand(tx.conn, brand_id), "brand", brand_id)
        changed = changed_fields(stored, rules.brand_record(**merged(stored, changes, BRAND_FIELDS)))
        if not changed:
            return stored
        if "name" in changed:
            name = changed["name"]
            taken = await repo.brand_name_taken(tx.conn, name, other_than=brand_id)
            refuse_taken(taken, name, code="brand_name_taken")
        await repo.update_brand(tx.conn, brand_id, changed)
        payload = {"brand_id": brand_id, "changed": sorted(changed), **changed}
        await tx.emit("brand.updated", f"brand:{brand_id}", payload)
    return replace(stored, **changed)


async def get_brand(ctx: Context, brand_id: int) -> Brand:
    async with ctx.read() as conn:
        return found(await repo.find_brand(conn, brand_id), "brand", brand_id)


async def list_brands(ctx: Context, *, limit: int, offset: int) -> Page[Brand]:
    limit, offset = rules.page_window(limit, offset)
    async with ctx.read() as conn:
        return await repo.brands_page(conn, limit=limit, offset=offset)


# --- suppliers -------------------------------------------------------------------------------------


async def create_supplier(ctx: Context, **fields: Any) -> Supplier:
    record = rules.supplier_record(**fields)
    async with ctx.transaction() as tx:
        taken = await repo.supplier_name_taken(tx.conn, record["name"])
        refuse_taken(taken, record["name"], code="supplier_name_taken")
        supplier = await repo.insert_supplier(tx.conn, record, tx.now)
        payload = {"supplier_id": supplier.id, "name": supplier.name, "country": supplier.country}
        await tx.emit("supplier.created", f"supplier:{supplier.id}", payload)
    return supplier


async def get_supplier(ctx: Context, who: Principal, supplier_id: int) -> Supplier:
    """Operators see every supplier; a supplier user only its own."""
    who.require_supplier_scope(supplier_id)
    async with ctx.read() as conn:
        return found(await repo.find_supplier(conn, supplier_id), "supplier", supplier_id)


async def list_suppliers(ctx: Context, *, limit: int, offset: int) -> Page[Supplier]:
    limit, offset = rules.page_window(limit, offset)
    async with ctx.read() as conn:
        return await repo.suppliers_page(conn, limit=limit, offset=offset)


# --- warehouses ------------------------------------------------------------------------------------


async def create_warehouse(ctx: Context, **fields: Any) -> Warehouse:
    record = rules.warehouse_record(**fields, codable_countries=CUSTOMS_COUNTRY_CODES)
    async with ctx.transaction() as tx:
        taken = await repo.warehouse_code_taken(tx.conn, record["code"])
        refuse_taken(taken, record["code"], code="warehouse_code_taken")
        warehouse = await repo.insert_warehouse(tx.conn, record, tx.now)
        payload = {
            "warehouse_id": warehouse.id,
            "code": warehouse.code,
            "kind": warehouse.kind.value,
            "customs_district": warehouse.customs_district,
            "country": warehouse.country,
        }
        await tx.emit("warehouse.created", f"warehouse:{warehouse.id}", payload)
    return warehouse


async def get_warehouse(ctx: Context, warehouse_id: int) -> Warehouse:
    async with ctx.read() as conn:
        return found(await repo.find_warehouse(conn, warehouse_id), "warehouse", warehouse_id)


async def list_warehouses(ctx: Context, *, limit: int, offset: int) -> Page[Warehouse]:
    limit, offset = rules.page_window(limit, offset)
    async with ctx.read() as conn:
        return await repo.warehouses_page(conn, limit=limit, offset=offset)
