"""Products: what a supplier sells under a brand, with the customs facts (HS code, origin, legal unit,
tax category) every order declaration needs. A supplier user manages only its own products."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from flashport.adapters.db.schema import brands, products, suppliers
from flashport.domain import catalog as rules
from flashport.domain.accounts import Principal
from flashport.services.catalog.reference import fetch_one, fetch_page, merged
from flashport.services.catalog.skus import insert_sku, product_for, skus_of
from flashport.services.context import Context

PRODUCT_FIELDS = ("title", "description", "images", "origin_country", "hs_code", "legal_unit", "tax_category")


async def create_product(
    ctx: Context,
    who: Principal,
    *,
    brand_id: int,
    supplier_id: int | None = None,
    skus: Sequence[Mapping[str, Any]] = (),
    **fields: Any,
) -> dict[str, Any]:
    """Create a product and, optionally, its first SKUs, all or nothing."""
    owner = rules.product_owner(who, supplier_id)
    checks = rules.FieldChecks()
    record = checks.run(rules.product_record, **fields)
    sku_records = checks.run(rules.new_sku_records, [dict(s) for s in skus])
    checks.done()
    async with ctx.transaction() as tx:
        await fetch_one(tx.conn, brands, brand_id, what="brand")
        await fetch_one(tx.conn, suppliers, owner, what="supplier")
        values = {**record, "brand_id": brand_id, "supplier_id": owner}
        stamps = {"created_at": tx.now, "updated_at": tx.now}
        product_id = await tx.conn.scalar(
            products.insert().values(**values, **stamps).returning(products.c.id)
        )
        product = {"id": product_id, **values, **stamps}
        payload = {
            "product_id": product_id,
            "supplier_id": owner,
            "brand_id": brand_id,
            "title": record["title"],
            "hs_code": record["hs_code"],
            "sku_codes": [s["code"] for s in sku_records],
        }
        await tx.emit("product.created", f"product:{product_id}", payload)
        # Each SKU gets its own sku.created too, so a reader of SKU events sees every SKU however made.
        product["skus"] = [await insert_sku(tx, product, s) for s in sku_records]
    return product


async def get_product(ctx: Context, who: Principal, product_id: int) -> dict[str, Any]:
    """The product with its SKUs."""
    async with ctx.read() as conn:
        product = await product_for(conn, who, product_id)
        return {**product, "skus": await skus_of(conn, product_id)}


async def list_products(
    ctx: Context,
    who: Principal,
    *,
    supplier_id: int | None = None,
    brand_id: int | None = None,
    limit: int,
    offset: int,
) -> dict[str, Any]:
    """Products in id order; a supplier user sees only its own."""
    query = sa.select(products).order_by(products.c.id)
    owner = rules.visible_supplier(who, supplier_id)
    if owner is not None:
        query = query.where(products.c.supplier_id == owner)
    if brand_id is not None:
        query = query.where(products.c.brand_id == brand_id)
    async with ctx.read() as conn:
        return await fetch_page(conn, query, limit=limit, offset=offset)


async def update_product(
    ctx: Context, who: Principal, product_id: int, changes: Mapping[str, Any]
) -> dict[str, Any]:
    """Change some fields, or move the product to another brand; its supplier never changes.
    An update that changes nothing writes nothing and emits no event."""
    async with ctx.transaction() as tx:
        stored = await product_for(tx.conn, who, product_id)
        changed = rules.changed_fields(
            stored, rules.product_record(**merged(stored, changes, PRODUCT_FIELDS))
        )
        if "brand_id" in changes and changes["brand_id"] != stored["brand_id"]:
            changed["brand_id"] = await _existing_brand(tx.conn, changes["brand_id"])
        if not changed:
            return stored
        await tx.conn.execute(
            products.update().where(products.c.id == product_id).values(**changed, updated_at=tx.now)
        )
        payload = {
            "product_id": product_id,
            "supplier_id": stored["supplier_id"],
            "brand_id": changed.get("brand_id", stored["brand_id"]),
            "changed": sorted(changed),
        }
        await tx.emit("product.updated", f"product:{product_id}", payload)
    return {**stored, **changed, "updated_at": tx.now}


async def _existing_brand(conn: AsyncConnection, brand_id: int | None) -> int:
    if brand_id is None:
        raise rules.invalid("missing_field", "a product needs a brand", "brand_id", "required")
    await fetch_one(conn, brands, brand_id, what="brand")
    return brand_id
