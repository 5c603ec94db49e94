"""SQL for the console's order desk: finding orders, reading one order's whole story, the refunds list.
Every function takes the caller's connection and returns rows; the service makes views of them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from flashport.adapters.db.schema import (
    declarations,
    operator_audit,
    order_lines,
    orders,
    outbox,
    payments,
    refunds,
    sale_events,
    users,
)

FOUND_COLUMNS = (
    orders.c.order_no,
    orders.c.status,
    orders.c.created_at,
    orders.c.buyer_id,
    users.c.email.label("buyer_email"),
    orders.c.total_fen,
    orders.c.consignee_name,
    orders.c.consignee_phone,
    orders.c.buyer_phone,
)


async def search(conn: AsyncConnection, text: str, limit: int) -> list[Any]:
    """Orders whose number, buyer (e-mail or account number) or phone (the buyer's or the consignee's)
    is exactly ``text``, newest first. Each condition has an index (the phones' are partial: only
    checked-out orders have one), so a look-up stays cheap however many orders there are."""
    wanted = [orders.c.order_no == text, orders.c.consignee_phone == text, orders.c.buyer_phone == text]
    buyer = sa.select(users.c.id).where(users.c.email == text.lower()).scalar_subquery()
    wanted.append(orders.c.buyer_id == buyer)
    if text.isascii() and text.isdigit() and len(text) <= 18:
        wanted.append(orders.c.buyer_id == int(text))
    query = (
        sa.select(*FOUND_COLUMNS)
        .join(users, users.c.id == orders.c.buyer_id, isouter=True)
        .where(sa.or_(*wanted))
        .order_by(orders.c.created_at.desc())
        .limit(limit)
    )
    return list((await conn.execute(query)).all())


async def order(conn: AsyncConnection, order_no: str) -> Any:
    """The order row with its buyer's e-mail and name and its event's title; None if there is none."""
    query = (
        sa.select(
            orders,
            users.c.email.label("buyer_email"),
            users.c.name.label("buyer_account_name"),
            sale_events.c.title.label("event_title"),
        )
        .join(users, users.c.id == orders.c.buyer_id, isouter=True)
        .join(sale_events, sale_events.c.id == orders.c.event_id, isouter=True)
        .where(orders.c.order_no == order_no)
    )
    return (await conn.execute(query)).first()


async def lines(conn: AsyncConnection, order_id: str) -> list[Any]:
    query = sa.select(order_lines).where(order_lines.c.order_id == order_id).order_by(order_lines.c.line_no)
    return list((await conn.execute(query)).all())


async def payments_of(conn: AsyncConnection, order_id: str) -> list[Any]:
    query = sa.select(payments).where(payments.c.order_id == order_id).order_by(payments.c.attempt)
    return list((await conn.execute(query)).all())


async def refunds_of(conn: AsyncConnection, payment_ids: Sequence[int]) -> list[Any]:
    if not payment_ids:
        return []
    query = sa.select(refunds).where(refunds.c.payment_id.in_(payment_ids)).order_by(refunds.c.id)
    return list((await conn.execute(query)).all())


async def declaration(conn: AsyncConnection, order_no: str) -> Any:
    return (await conn.execute(sa.select(declarations).where(declarations.c.order_no == order_no))).first()


async def events(conn: AsyncConnection, subject: str, limit: int) -> list[Any]:
    """The outbox events of one subject (``order:NO``), oldest first."""
    query = (
        sa.select(outbox.c.id, outbox.c.type, outbox.c.occurred_at, outbox.c.payload)
        .where(outbox.c.subject == subject)
        .order_by(outbox.c.id)
        .limit(limit)
    )
    return list((await conn.execute(query)).all())


async def audit_of(conn: AsyncConnection, subject: str) -> list[Any]:
    query = sa.select(operator_audit).where(operator_audit.c.subject == subject).order_by(operator_audit.c.id)
    return list((await conn.execute(query)).all())


async def lock_paid_payment(conn: AsyncConnection, order_id: str) -> Any:
    """The order's succeeded payment, locked (FOR UPDATE; SQLite has one writer anyway); None if none."""
    query = (
        sa.select(payments)
        .where(payments.c.order_id == order_id, payments.c.status == "succeeded")
        .order_by(payments.c.attempt.desc())
        .limit(1)
        .with_for_update()
    )
    return (await conn.execute(query)).first()


async def refunds_listed(
    conn: AsyncConnection, *, status: str | None, before_id: int | None, limit: int
) -> list[Any]:
    """Refunds newest first, with their order number, of one status if given."""
    query = (
        sa.select(refunds, payments.c.order_no)
        .join(payments, payments.c.id == refunds.c.payment_id)
        .order_by(refunds.c.id.desc())
        .limit(limit)
    )
    if status:
        query = query.where(refunds.c.status == status)
    if before_id is not None:
        query = query.where(refunds.c.id < before_id)
    return list((await conn.execute(query)).all())
