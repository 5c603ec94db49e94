"""Who an order, a stock row or a payment belongs to, as partners see it: the suppliers of its goods,
the carrier on its declaration, the payment company (provider) of its payments. One query per kind of
fact for a whole batch of subjects, so the relay costs a few statements per pass, not per event."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from flashport.adapters.db.schema import (
    declarations,
    order_lines,
    orders,
    payments,
    products,
    refunds,
    skus,
)


@dataclass
class OrderOwners:
    supplier_ids: set[int] = field(default_factory=set)
    logistics_code: str | None = None
    pay_codes: set[str] = field(default_factory=set)


async def order_owners(conn: AsyncConnection, order_nos: Iterable[str]) -> dict[str, OrderOwners]:
    nos = sorted(set(order_nos))
    found: dict[str, OrderOwners] = {}
    if not nos:
        return found
    supplier_rows = await conn.execute(
        sa.select(orders.c.order_no, products.c.supplier_id)
        .join(order_lines, order_lines.c.order_id == orders.c.id)
        .join(skus, skus.c.id == order_lines.c.sku_id)
        .join(products, products.c.id == skus.c.product_id)
        .where(orders.c.order_no.in_(nos))
    )
    for no, supplier_id in supplier_rows:
        found.setdefault(no, OrderOwners()).supplier_ids.add(int(supplier_id))
    carrier_rows = await conn.execute(
        sa.select(declarations.c.order_no, declarations.c.logistics_code).where(
            declarations.c.order_no.in_(nos)
        )
    )
    for no, code in carrier_rows:
        found.setdefault(no, OrderOwners()).logistics_code = code
    payer_rows = await conn.execute(
        sa.select(payments.c.order_no, payments.c.provider).where(payments.c.order_no.in_(nos))
    )
    for no, provider in payer_rows:
        found.setdefault(no, OrderOwners()).pay_codes.add(provider)
    return found


async def stock_suppliers(conn: AsyncConnection, sku_ids: Iterable[int]) -> dict[int, int]:
    ids = sorted(set(sku_ids))
    if not ids:
        return {}
    rows = await conn.execute(
        sa.select(skus.c.id, products.c.supplier_id)
        .join(products, products.c.id == skus.c.product_id)
        .where(skus.c.id.in_(ids))
    )
    return {int(sku): int(supplier) for sku, supplier in rows}


async def order_row(conn: AsyncConnection, order_no: str) -> Any:
    return (await conn.execute(sa.select(orders).where(orders.c.order_no == order_no))).first()


async def lines_with_supplier(conn: AsyncConnection, order_id: str) -> list[Any]:
    query = (
        sa.select(order_lines, products.c.supplier_id, skus.c.code.label("sku_code"))
        .join(skus, skus.c.id == order_lines.c.sku_id)
        .join(products, products.c.id == skus.c.product_id)
        .where(order_lines.c.order_id == order_id)
        .order_by(order_lines.c.line_no)
    )
    return list(await conn.execute(query))


async def declaration_of(conn: AsyncConnection, order_no: str) -> Any:
    return (await conn.execute(sa.select(declarations).where(declarations.c.order_no == order_no))).first()


async def payments_of(conn: AsyncConnection, order_no: str) -> list[Any]:
    query = sa.select(payments).where(payments.c.order_no == order_no).order_by(payments.c.id)
    return list(await conn.execute(query))


async def refunds_of(conn: AsyncConnection, payment_ids: list[int]) -> list[Any]:
    if not payment_ids:
        return []
    query = sa.select(refunds).where(refunds.c.payment_id.in_(payment_ids)).order_by(refunds.c.id)
    return list(await conn.execute(query))
