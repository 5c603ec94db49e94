"""The console's catalog commands (merchandisers and operators): brands, suppliers, warehouses,
products with their images, SKUs and stock counts, each through the catalog services (which own their
transactions and outbox events) with a context that writes the action's audit entry inside the
transaction of the change (``Context.audited``): the change and its entry commit together or not at
all, and a count that changes nothing records nothing.

Images go to the image store (adapters/images) after the checks of domain/images.py; the product keeps
their URLs."""

from __future__ import annotations

from typing import Any

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


def _audited(ctx: Context, who: Principal, action: str, **note: Any) -> Context:
    return ctx.audited(who.user_id, action, **note)


async def create_brand(ctx: Context, who: Principal, **fields: Any) -> Brand:
    return await reference.create_brand(_audited(ctx, who, "brand.created"), **fields)


async def create_supplier(ctx: Context, who: Principal, **fields: Any) -> Supplier:
    return await reference.create_supplier(_audited(ctx, who, "supplier.created"), **fields)


async def create_warehouse(ctx: Context, who: Principal, **fields: Any) -> Warehouse:
    return await reference.create_warehouse(_audited(ctx, who, "warehouse.created"), **fields)


async def store_image(store: ImageStore, data: bytes) -> str:
    """Check and keep an uploaded image; its URL."""
    kind = image_kind(data)
    return store.url(await store.put(data, kind))


async def create_product(
    ctx: Context, who: Principal, store: ImageStore, image: bytes, **fields: Any
) -> ProductWithSkus:
    url = await store_image(store, image)
    audited = _audited(ctx, who, "product.created", details={"image": url})
    return await products.create_product(audited, who, images=[url], **fields)


async def add_image(
    ctx: Context, who: Principal, store: ImageStore, product_id: int, image: bytes
) -> Product:
    url = await store_image(store, image)
    stored = await products.get_product(ctx, who, product_id)
    audited = _audited(ctx, who, "product.image_added", details={"image": url})
    return await products.update_product(audited, who, product_id, {"images": [*stored.images, url]})


async def add_sku(ctx: Context, who: Principal, product_id: int, **fields: Any) -> Sku:
    audited = _audited(ctx, who, "sku.added", subject=f"product:{product_id}")
    return await skus.add_sku(audited, who, product_id, **fields)


async def set_stock(
    ctx: Context, who: Principal, product_id: int, sku_id: int, warehouse_id: int, on_hand: int
) -> StockEntry:
    audited = _audited(ctx, who, "stock.counted", subject=f"product:{product_id}")
    return await stock.set_on_hand(audited, who, sku_id, warehouse_id, on_hand)
