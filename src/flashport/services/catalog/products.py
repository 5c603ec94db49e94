"""Products: what a supplier sells under a brand, with the customs facts (HS code, origin, legal unit,
tax category) every order declaration needs. A supplier user manages only its own products."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from flashport.adapters.db import catalog_repo as repo
from flashport.ceb.codes import CUSTOMS_COUNTRY_CODES
from flashport.domain import catalog as rules
from flashport.domain.accounts import Principal
from flashport.domain.catalog_entities import Page, Product, ProductWithSkus
from flashport.services.catalog.positive_list import require_listed
from flashport.services.catalog.reference import changed_fields, found, merged
from flashport.services.catalog.skus import check_skus_fit, insert_sku, product_for
from flashport.services.context import Context

PRODUCT_FIELDS = (
    "title",
    "declared_name",
    "description",
    "images",
    "origin_country",
    "hs_code",
    "legal_unit",
    "tax_category",
    "title_zh",
    "description_zh",
    "return_exclusions",
    "return_exclusions_zh",
)


async def _with_legal_units(conn: AsyncConnection, record: dict[str, Any]) -> dict[str, Any]:
    """The record with the legal units of its HS code, once the code is on the positive list."""
    listed = await require_listed(conn, record["hs_code"], record["legal_unit"])
    return {**record, "legal_unit": listed.legal_unit, "second_legal_unit": listed.second_legal_unit}


async def create_product(
    ctx: Context,
    who: Principal,
    *,
    brand_id: int,
    supplier_id: int | None = None,
    skus: Sequence[Mapping[str, Any]] = (),
    **fields: Any,
) -> ProductWithSkus:
    """Create a product and, optionally, its first SKUs, all or nothing."""
    owner = rules.product_owner(who, supplier_id)
    checks = rules.FieldChecks()
    record = checks.run(rules.product_record, **fields, codable_origins=CUSTOMS_COUNTRY_CODES)
    sku_records = checks.run(rules.new_sku_records, [dict(s) for s in skus])
    checks.done()
    async with ctx.transaction() as tx:
        found(await repo.find_brand(tx.conn, brand_id), "brand", brand_id)
        found(await repo.find_supplier(tx.conn, owner), "supplier", owner)
        record = await _with_legal_units(tx.conn, record)
        check_skus_fit(record, sku_records)
        product = await repo.insert_product(
            tx.conn, {**record, "brand_id": brand_id, "supplier_id": owner}, tx.now
        )
        payload = {
            "product_id": product.id,
            "supplier_id": owner,
            "brand_id": brand_id,
            "title": product.title,
            "hs_code": product.hs_code,
            "sku_codes": [s["code"] for s in sku_records],
        }
        await tx.emit("product.created", f"product:{product.id}", payload)
        # Each SKU gets its own sku.created too, so a reader of SKU events sees every SKU however made.
        added = [await insert_sku(tx, product, s) for s in sku_records]
    return ProductWithSkus.of(product, added)


async def get_product(ctx: Context, who: Principal, product_id: int) -> ProductWithSkus:
    """The product with its SKUs."""
    async with ctx.read() as conn:
        product = await product_for(conn, who, product_id)
        return ProductWithSkus.of(product, await repo.skus_of(conn, product))


async def list_products(
    ctx: Context,
    who: Principal,
    *,
    supplier_id: int | None = None,
    brand_id: int | None = None,
    limit: int,
    offset: int,
) -> Page[Product]:
    """Products in id order; a supplier user sees only its own."""
    owner = rules.visible_supplier(who, supplier_id)
    limit, offset = rules.page_window(limit, offset)
    async with ctx.read() as conn:
        return await repo.products_page(
            conn, supplier_id=owner, brand_id=brand_id, limit=limit, offset=offset
        )


async def update_product(
    ctx: Context, who: Principal, product_id: int, changes: Mapping[str, Any]
) -> Product:
    """Change some fields, or move the product to another brand; its supplier never changes.
    An update that changes nothing writes nothing and emits no event."""
    async with ctx.transaction() as tx:
        stored = await product_for(tx.conn, who, product_id)
        editable = merged(stored, changes, PRODUCT_FIELDS)
        editable["images"] = list(editable["images"] or [])
        record = rules.product_record(**editable, codable_origins=CUSTOMS_COUNTRY_CODES)
        unit_given = changes.get("legal_unit")
        if record["hs_code"] != stored.hs_code or (unit_given and unit_given != stored.legal_unit):
            # A new HS code is checked against the edition in force; the product's own stays as it
            # was accepted, so a later edition never blocks editing its other fields.
            record = {**record, "legal_unit": record["legal_unit"] if unit_given else None}
            record = await _with_legal_units(tx.conn, record)
            check_skus_fit(record, await repo.skus_of(tx.conn, stored))
        else:
            record = {**record, "legal_unit": stored.legal_unit}
        # The rules give a list of images; the product holds a tuple, and only a different one is a change.
        changed = changed_fields(stored, {**record, "images": tuple(record["images"])})
        if "brand_id" in changes and changes["brand_id"] != stored.brand_id:
            changed["brand_id"] = await _existing_brand(tx.conn, changes["brand_id"])
        if not changed:
            return stored
        await repo.update_product(tx.conn, product_id, changed, tx.now)
        payload = {
            "product_id": product_id,
            "supplier_id": stored.supplier_id,
            "brand_id": changed.get("brand_id", stored.brand_id),
            "changed": sorted(changed),
        }
        await tx.emit("product.updated", f"product:{product_id}", payload)
    return replace(stored, **changed, updated_at=tx.now)


async def _existing_brand(conn: AsyncConnection, brand_id: int | None) -> int:
    if brand_id is None:
        raise rules.invalid("missing_field", "a product needs a brand", "brand_id", "required")
    found(await repo.find_brand(conn, brand_id), "brand", brand_id)
    return brand_id
