"""SQL for the supplier portal: one supplier's products and stock, and the sales of its goods. Every
query is scoped by the supplier's id through ``products.supplier_id``: nothing of another supplier's
can come out of here. Sales are counted from order lines (an order may hold several suppliers' goods),
paid orders only."""

from __future__ import annotations

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
    sale_events,
    sale_items,
    skus,
    stock,
    suppliers,
    users,
    warehouses,
)

# Customs has not let the parcel go yet (or has not been asked): the supplier's goods wait for customs.
WAITING_FOR_CUSTOMS = (
    "pending",
    "declared",
    "received",
    "matched",
    "under_review",
    "reviewed",
    "inspection",
    "detained",
    "rejected",
)


async def supplier_name(conn: AsyncConnection, supplier_id: int) -> str | None:
    return await conn.scalar(sa.select(suppliers.c.name).where(suppliers.c.id == supplier_id))


async def supplier_of_user(conn: AsyncConnection, user_id: int) -> int | None:
    return await conn.scalar(sa.select(users.c.supplier_id).where(users.c.id == user_id))


async def stock_of(conn: AsyncConnection, supplier_id: int) -> list[Any]:
    """Every SKU of the supplier's products with its stock per warehouse (none: no row for it)."""
    query = (
        sa.select(
            products.c.id.label("product_id"),
            products.c.title.label("product_title"),
            skus.c.id.label("sku_id"),
            skus.c.code,
            skus.c.title.label("sku_title"),
            warehouses.c.name.label("warehouse"),
            stock.c.on_hand,
            stock.c.allotted,
        )
        .join(skus, skus.c.product_id == products.c.id)
        .join(stock, stock.c.sku_id == skus.c.id, isouter=True)
        .join(warehouses, warehouses.c.id == stock.c.warehouse_id, isouter=True)
        .where(products.c.supplier_id == supplier_id)
        .order_by(products.c.id, skus.c.id, warehouses.c.name)
    )
    return list((await conn.execute(query)).all())


def _paid_lines(supplier_id: int) -> Any:
    """The supplier's paid order lines, joined to their order, event and declaration."""
    return (
        order_lines.join(orders, orders.c.id == order_lines.c.order_id)
        .join(skus, skus.c.id == order_lines.c.sku_id)
        .join(products, sa.and_(products.c.id == skus.c.product_id, products.c.supplier_id == supplier_id))
        # The line's own sale: a checked-out basket's lines may be of several events.
        .join(sale_items, sale_items.c.id == order_lines.c.sale_item_id)
        .join(sale_events, sale_events.c.id == sale_items.c.event_id)
        .join(declarations, declarations.c.order_id == orders.c.id, isouter=True)
    )


def _waiting() -> Any:
    return sa.or_(declarations.c.state.is_(None), declarations.c.state.in_(WAITING_FOR_CUSTOMS))


async def sales_by_event(conn: AsyncConnection, supplier_id: int) -> list[Any]:
    """Per event with any paid sale of the supplier's goods: units, revenue at sale price (fen), units
    waiting for customs, units shipped; newest event first."""
    units = order_lines.c.quantity
    query = (
        sa.select(
            sale_events.c.id.label("event_id"),
            sale_events.c.title,
            sale_events.c.starts_at,
            sale_events.c.ends_at,
            sa.func.sum(units).label("units"),
            sa.func.sum(order_lines.c.total_fen).label("revenue_fen"),
            sa.func.sum(sa.case((_waiting(), units), else_=0)).label("waiting_units"),
            sa.func.sum(sa.case((declarations.c.shipped_at.isnot(None), units), else_=0)).label(
                "shipped_units"
            ),
        )
        .select_from(_paid_lines(supplier_id))
        .where(orders.c.status == "paid")
        .group_by(sale_events.c.id, sale_events.c.title, sale_events.c.starts_at, sale_events.c.ends_at)
        .order_by(sale_events.c.starts_at.desc())
    )
    return list((await conn.execute(query)).all())


async def event_lines(conn: AsyncConnection, supplier_id: int, event_id: int) -> list[Any]:
    """The supplier's paid lines in one event, for its settlement statement, oldest payment first, each
    with its declaration's state and what was refunded on its order (succeeded refunds, fen)."""
    refunded = (
        sa.select(sa.func.coalesce(sa.func.sum(refunds.c.amount_fen), 0))
        .join(payments, payments.c.id == refunds.c.payment_id)
        .where(payments.c.order_id == orders.c.id, refunds.c.status == "succeeded")
        .scalar_subquery()
    )
    query = (
        sa.select(
            orders.c.order_no,
            orders.c.paid_at,
            orders.c.total_fen.label("order_total_fen"),
            skus.c.code.label("sku_code"),
            order_lines.c.title,
            order_lines.c.quantity,
            order_lines.c.unit_price_fen,
            order_lines.c.total_fen,
            declarations.c.state.label("customs_state"),
            declarations.c.shipped_at,
            refunded.label("order_refunded_fen"),
        )
        .select_from(_paid_lines(supplier_id))
        .where(orders.c.status == "paid", sale_items.c.event_id == event_id)
        .order_by(orders.c.paid_at, orders.c.order_no, order_lines.c.line_no)
    )
    return list((await conn.execute(query)).all())


async def event_title(conn: AsyncConnection, event_id: int) -> Any:
    return (
        await conn.execute(
            sa.select(sale_events.c.title, sale_events.c.starts_at, sale_events.c.ends_at).where(
                sale_events.c.id == event_id
            )
        )
    ).first()
