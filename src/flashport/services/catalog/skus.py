"""SKUs: the sellable variants of a product. A supplier user manages only its own products' SKUs.

Prices are stored as integer fen and shown as ``Decimal`` yuan with two places (``129.00``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from flashport.adapters.db.schema import products, skus
from flashport.domain import catalog as rules
from flashport.domain.accounts import Principal
from flashport.domain.errors import NotFound
from flashport.domain.money import fen_to_decimal
from flashport.services.catalog.reference import fetch_one, merged, refuse_taken
from flashport.services.context import Context, Tx

SKU_FIELDS = ("code", "title", "spec", "barcode", "original_price", "weight_grams", "unit")


def sku_view(row: Mapping[str, Any]) -> dict[str, Any]:
    return {**row, "original_price": fen_to_decimal(row["original_price_fen"])}


async def product_for(conn: AsyncConnection, who: Principal, product_id: int) -> dict[str, Any]:
    """The product, if it exists (404) and the caller may manage it (403)."""
    product = await fetch_one(conn, products, product_id, what="product")
    who.require_supplier_scope(product["supplier_id"])
    return product


async def sku_for(conn: AsyncConnection, who: Principal, sku_id: int) -> dict[str, Any]:
    """The SKU with its product's ``supplier_id``, if it exists (404) and the caller may manage it (403)."""
    query = sa.select(skus, products.c.supplier_id).join(products).where(skus.c.id == sku_id)
    row = (await conn.execute(query)).first()
    if row is None:
        raise NotFound(f"SKU {sku_id} does not exist", code="sku_not_found")
    who.require_supplier_scope(row.supplier_id)
    return sku_view(dict(row._mapping))


async def skus_of(conn: AsyncConnection, product_id: int) -> list[dict[str, Any]]:
    query = sa.select(skus).where(skus.c.product_id == product_id).order_by(skus.c.id)
    return [sku_view(dict(r._mapping)) for r in await conn.execute(query)]


async def insert_sku(tx: Tx, product: Mapping[str, Any], record: Mapping[str, Any]) -> dict[str, Any]:
    """Insert a validated SKU of ``product`` and its ``sku.created`` event, inside the caller's ``tx``."""
    await refuse_taken(tx.conn, skus.c.code, record["code"], code="sku_code_taken")
    stamps: dict[str, datetime] = {"created_at": tx.now, "updated_at": tx.now}
    sku_id = await tx.conn.scalar(
        skus.insert().values(product_id=product["id"], **record, **stamps).returning(skus.c.id)
    )
    payload = {
        "sku_id": sku_id,
        "product_id": product["id"],
        "supplier_id": product["supplier_id"],
        "code": record["code"],
        "original_price_fen": record["original_price_fen"],
    }
    await tx.emit("sku.created", f"sku:{sku_id}", payload)
    return sku_view({"id": sku_id, "product_id": product["id"], **record, **stamps})


async def add_sku(ctx: Context, who: Principal, product_id: int, **fields: Any) -> dict[str, Any]:
    async with ctx.transaction() as tx:
        product = await product_for(tx.conn, who, product_id)
        return await insert_sku(tx, product, rules.sku_record(**fields))


async def get_sku(ctx: Context, who: Principal, sku_id: int) -> dict[str, Any]:
    async with ctx.read() as conn:
        return await sku_for(conn, who, sku_id)


async def update_sku(ctx: Context, who: Principal, sku_id: int, changes: Mapping[str, Any]) -> dict[str, Any]:
    """Change some fields; an update that changes nothing writes nothing and emits no event."""
    async with ctx.transaction() as tx:
        stored = await sku_for(tx.conn, who, sku_id)
        record = rules.sku_record(**merged(stored, changes, SKU_FIELDS))
        changed = rules.changed_fields(stored, record)
        if not changed:
            return stored
        if "code" in changed:
            await refuse_taken(
                tx.conn, skus.c.code, changed["code"], code="sku_code_taken", other_than=sku_id
            )
        await tx.conn.execute(skus.update().where(skus.c.id == sku_id).values(**changed, updated_at=tx.now))
        payload = {
            "sku_id": sku_id,
            "product_id": stored["product_id"],
            "supplier_id": stored["supplier_id"],
            "changed": sorted(changed),
            "original_price_fen": record["original_price_fen"],
        }
        await tx.emit("sku.updated", f"sku:{sku_id}", payload)
    return sku_view({**stored, **changed, "updated_at": tx.now})
