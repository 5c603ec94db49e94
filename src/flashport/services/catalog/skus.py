"""SKUs: the sellable variants of a product. A supplier user manages only its own products' SKUs.

Prices are stored as integer fen; :attr:`Sku.original_price` shows them as ``Decimal`` yuan (``129.00``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, replace
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from flashport.adapters.db import catalog_repo as repo
from flashport.domain import catalog as rules
from flashport.domain import customs_goods as goods
from flashport.domain.accounts import Principal
from flashport.domain.catalog_entities import Product, Sku
from flashport.services.catalog.reference import changed_fields, found, merged, refuse_taken
from flashport.services.context import Context, Tx

SKU_FIELDS = (
    "code",
    "title",
    "spec",
    "barcode",
    "original_price",
    "weight_grams",
    "unit",
    "gmodel",
    "net_content",
    "net_content_unit",
    "net_weight_grams",
    "packaging_weight_grams",
    "item_record_no",
)


def check_skus_fit(product: Mapping[str, Any] | Product, skus: Iterable[Mapping[str, Any] | Sku]) -> None:
    """Each SKU's net content can be counted in the product's legal units (a unit of volume needs
    the content as a volume), or 422 ``net_content_unit_mismatch``."""
    facts = asdict(product) if isinstance(product, Product) else product
    units = (facts.get("legal_unit"), facts.get("second_legal_unit"))
    for sku in skus:
        unit = sku.net_content_unit if isinstance(sku, Sku) else sku.get("net_content_unit")
        goods.check_content_fits(units, unit, field="net_content_unit")


async def product_for(conn: AsyncConnection, who: Principal, product_id: int) -> Product:
    """The product, if it exists (404) and the caller may manage it (403)."""
    product = found(await repo.find_product(conn, product_id), "product", product_id)
    who.require_supplier_scope(product.supplier_id)
    return product


async def sku_for(conn: AsyncConnection, who: Principal, sku_id: int) -> Sku:
    """The SKU, if it exists (404) and the caller may manage it (403)."""
    sku = found(await repo.find_sku(conn, sku_id), "sku", sku_id, noun="SKU")
    who.require_supplier_scope(sku.supplier_id)
    return sku


async def insert_sku(tx: Tx, product: Product, record: Mapping[str, Any]) -> Sku:
    """Insert a validated SKU of ``product`` and its ``sku.created`` event, inside the caller's ``tx``."""
    refuse_taken(await repo.sku_code_taken(tx.conn, record["code"]), record["code"], code="sku_code_taken")
    sku = await repo.insert_sku(tx.conn, product, record, tx.now)
    payload = {
        "sku_id": sku.id,
        "product_id": product.id,
        "supplier_id": product.supplier_id,
        "code": sku.code,
        "original_price_fen": sku.original_price_fen,
    }
    await tx.emit("sku.created", f"sku:{sku.id}", payload)
    return sku


async def add_sku(ctx: Context, who: Principal, product_id: int, **fields: Any) -> Sku:
    async with ctx.transaction() as tx:
        product = await product_for(tx.conn, who, product_id)
        record = rules.sku_record(**fields)
        check_skus_fit(product, [record])
        return await insert_sku(tx, product, record)


async def get_sku(ctx: Context, who: Principal, sku_id: int) -> Sku:
    async with ctx.read() as conn:
        return await sku_for(conn, who, sku_id)


async def update_sku(ctx: Context, who: Principal, sku_id: int, changes: Mapping[str, Any]) -> Sku:
    """Change some fields; an update that changes nothing writes nothing and emits no event."""
    async with ctx.transaction() as tx:
        stored = await sku_for(tx.conn, who, sku_id)
        record = rules.sku_record(**merged(stored, changes, SKU_FIELDS))
        product = found(await repo.find_product(tx.conn, stored.product_id), "product", stored.product_id)
        check_skus_fit(product, [record])
        changed = changed_fields(stored, record)
        if not changed:
            return stored
        if "code" in changed:
            taken = await repo.sku_code_taken(tx.conn, changed["code"], other_than=sku_id)
            refuse_taken(taken, changed["code"], code="sku_code_taken")
        await repo.update_sku(tx.conn, sku_id, changed, tx.now)
        payload = {
            "sku_id": sku_id,
            "product_id": stored.product_id,
            "supplier_id": stored.supplier_id,
            "changed": sorted(changed),
            "original_price_fen": record["original_price_fen"],
        }
        await tx.emit("sku.updated", f"sku:{sku_id}", payload)
    return replace(stored, **changed, updated_at=tx.now)
