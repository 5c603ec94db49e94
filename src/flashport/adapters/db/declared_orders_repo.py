"""SQL for what a customs declaration declares: the order (with its checkout), its lines with the goods'
customs facts, its payment, and the warehouse it ships from. Reading only, in the caller's connection."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from flashport.adapters.db.schema import (
    brands,
    order_lines,
    orders,
    payments,
    products,
    sale_items,
    skus,
    warehouses,
)


@dataclass(frozen=True)
class DeclaredOrder:
    """An order as declared: money in fen, the buyer's ID number sealed (``buyer_id_cipher``)."""

    id: str
    order_no: str
    buyer_id: int
    sale_item_id: int
    fulfilment: str
    goods_value_fen: int
    freight_fen: int
    discount_fen: int
    tax_fen: int
    total_fen: int
    paid_at: datetime | None
    consignee_name: str | None
    consignee_phone: str | None
    consignee_address: str | None
    consignee_district: str | None
    buyer_name: str | None
    buyer_id_cipher: str | None
    buyer_id_hash: str | None
    buyer_phone: str | None  # the buyer's own (buyerTelephone), set at checkout


@dataclass(frozen=True)
class DeclaredLine:
    """An order line with its SKU's, product's and brand's customs facts."""

    line_no: int
    sku_id: int
    title: str
    quantity: int
    unit_price_fen: int
    total_fen: int
    sku_code: str
    spec: str
    barcode: str | None
    unit: str
    weight_grams: int
    product_title: str
    hs_code: str
    legal_unit: str
    origin_country: str
    brand: str
    declared_name: str  # the Chinese name: itemName and gname
    gmodel: str
    second_legal_unit: str | None
    net_content: Decimal | None
    net_content_unit: str | None
    net_weight_grams: int
    packaging_weight_grams: int
    item_record_no: str | None


# The goods' customs facts every declared line carries (after the columns each query names itself).
DECLARED_GOODS_COLUMNS = (
    products.c.declared_name,
    skus.c.gmodel,
    products.c.second_legal_unit,
    skus.c.net_content,
    skus.c.net_content_unit,
    skus.c.net_weight_grams,
    skus.c.packaging_weight_grams,
    skus.c.item_record_no,
)


@dataclass(frozen=True)
class DeclaredPayment:
    id: int
    out_trade_no: str
    provider_trade_no: str | None
    amount_fen: int


@dataclass(frozen=True)
class Warehouse:
    code: str
    name: str
    customs_district: str | None
    country: str
    ems_no: str | None  # the bonded account book; None for an overseas warehouse
    area_code: str | None = None  # the bonded area operator's registered code (areaCode)


async def order(conn: AsyncConnection, order_id: str) -> DeclaredOrder:
    """The order (it must exist)."""
    query = sa.select(*(orders.c[f.name] for f in fields(DeclaredOrder))).where(orders.c.id == order_id)
    return DeclaredOrder(**(await conn.execute(query)).one()._mapping)


async def lines(conn: AsyncConnection, order_id: str) -> list[DeclaredLine]:
    """In line order."""
    query = (
        sa.select(
            order_lines.c.line_no,
            order_lines.c.sku_id,
            order_lines.c.title,
            order_lines.c.quantity,
            order_lines.c.unit_price_fen,
            order_lines.c.total_fen,
            skus.c.code.label("sku_code"),
            skus.c.spec,
            skus.c.barcode,
            skus.c.unit,
            skus.c.weight_grams,
            products.c.title.label("product_title"),
            products.c.hs_code,
            products.c.legal_unit,
            products.c.origin_country,
            brands.c.name.label("brand"),
            *DECLARED_GOODS_COLUMNS,
        )
        .join(skus, skus.c.id == order_lines.c.sku_id)
        .join(products, products.c.id == skus.c.product_id)
        .join(brands, brands.c.id == products.c.brand_id)
        .where(order_lines.c.order_id == order_id)
        .order_by(order_lines.c.line_no)
    )
    return [DeclaredLine(**row._mapping) for row in await conn.execute(query)]


async def payment(conn: AsyncConnection, order_id: str, *, any_paid: bool = False) -> DeclaredPayment | None:
    """The order's succeeded payment (the latest); with ``any_paid``, the latest the provider took,
    whatever became of it since (a refunded one included)."""
    p = payments.c
    paid = p.provider_trade_no.is_not(None) if any_paid else p.status == "succeeded"
    query = (
        sa.select(p.id, p.out_trade_no, p.provider_trade_no, p.amount_fen)
        .where(p.order_id == order_id, paid)
        .order_by(p.id.desc())
    )
    row = (await conn.execute(query)).first()
    return None if row is None else DeclaredPayment(**row._mapping)


async def warehouse_of_item(conn: AsyncConnection, sale_item_id: int) -> Warehouse:
    """The warehouse a sale item ships from (it must exist)."""
    w = warehouses.c
    query = (
        sa.select(w.code, w.name, w.customs_district, w.country, w.ems_no, w.area_code)
        .join(sale_items, sale_items.c.warehouse_id == w.id)
        .where(sale_items.c.id == sale_item_id)
    )
    return Warehouse(**(await conn.execute(query)).one()._mapping)
