"""The console's catalog commands (merchandisers and operators): brands, suppliers, warehouses,
products with their images, SKUs and stock counts, each through the catalog services (which own their
transactions and outbox events) and then an entry in the audit log, in a transaction of its own just
after (a crash between the two can lose the entry, never the change).

Images go to the image store (adapters/images) after the checks of domain/images.py; the product keeps
their URLs."""

from __future__ import annotations

from typing import Any

from flashport.adapters.db import console_repo
from flashport.adapters.images import ImageStore
from flashport.domain.accounts import Principal
from flashport.domain.catalog_entities import (
    Brand,
    Product,
    ProductWithSkus,
    Sku,
    StockEntry,
    Supplier,
    Warehouse,
)
from flashport.domain.images import image_kind
from flashport.services.catalog import products, reference, skus, stock
from flashport.services.context import Context


async def _audit(ctx: Context, who: Principal, action: str, subject: str, details: dict[str, Any]) -> None:
    async with ctx.transaction() as tx:
        await console_repo.record(tx.conn, who.user_id, action, subject, details, tx.now)


async def create_brand(ctx: Context, who: Principal, **fields: Any) -> Brand:
    brand = await reference.create_brand(ctx, **fields)
    await _audit(ctx, who, "brand.created", f"brand:{brand.id}", {"name": brand.name})
    return brand


async def create_supplier(ctx: Context, who: Principal, **fields: Any) -> Supplier:
    supplier = await reference.create_supplier(ctx, **fields)
    await _audit(ctx, who, "supplier.created", f"supplier:{supplier.id}", {"name": supplier.name})
    return supplier


async def create_warehouse(ctx: Context, who: Principal, **fields: Any) -> Warehouse:
    warehouse = await reference.create_warehouse(ctx, **fields)
    await _audit(ctx, who, "warehouse.created", f"warehouse:{warehouse.id}", {"code": warehouse.code})
    return warehouse


async def store_image(store: ImageStore, data: bytes) -> str:
    """Check and keep an uploaded image; its URL."""
    kind = image_kind(data)
    return store.url(await store.put(data, kind))


async def create_product(
    ctx: Context, who: Principal, store: ImageStore, image: bytes, **fields: Any
) -> ProductWithSkus:
    url = await store_image(store, image)
    product = await products.create_product(ctx, who, images=[url], **fields)
    await _audit(ctx, who, "product.created", f"product:{product.id}", {"title": product.title, "image": url})
    return product


async def add_image(
    ctx: Context, who: Principal, store: ImageStore, product_id: int, image: bytes
) -> Product:
    url = await store_image(store, image)
    stored = await products.get_product(ctx, who, product_id)
    product = await products.update_product(ctx, who, product_id, {"images": [*stored.images, url]})
    await _audit(ctx, who, "product.image_added", f"product:{product_id}", {"image": url})
    return product


async def add_sku(ctx: Context, who: Principal, product_id: int, **fields: Any) -> Sku:
    sku = await skus.add_sku(ctx, who, product_id, **fields)
    await _audit(ctx, who, "sku.added", f"product:{product_id}", {"sku_id": sku.id, "code": sku.code})
    return sku


async def set_stock(
    ctx: Context, who: Principal, product_id: int, sku_id: int, warehouse_id: int, on_hand: int
) -> StockEntry:
    entry = await stock.set_on_hand(ctx, who, sku_id, warehouse_id, on_hand)
    details = {"sku_id": sku_id, "warehouse_id": warehouse_id, "on_hand": on_hand}
    await _audit(ctx, who, "stock.counted", f"product:{product_id}", details)
    return entry
