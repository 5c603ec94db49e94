"""SQL for what a buyer's storefront pages follow of their orders: the newest orders' statuses, and how
far each unpaid order has gone between checkout and payment.

Every query is scoped by buyer and served by the ``(buyer_id, created_at)`` index or the order number's
unique index; each function takes a connection the caller owns and never commits.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from flashport.adapters.db.schema import orders, payments


async def newest_statuses(conn: AsyncConnection, buyer_id: int, *, limit: int) -> list[tuple[str, str]]:
    """(order number, status) of the buyer's ``limit`` newest orders, newest first."""
    query = (
        sa.select(orders.c.order_no, orders.c.status)
        .where(orders.c.buyer_id == buyer_id)
        .order_by(orders.c.created_at.desc())
        .limit(limit)
    )
    return [(row.order_no, row.status) for row in await conn.execute(query)]


async def payment_stages(
    conn: AsyncConnection, buyer_id: int, order_nos: Sequence[str]
) -> list[tuple[str, bool, bool, bool, bool]]:
    """(order number, checked out, payment opened, a payment still pending, a payment closed unpaid)
    of those of ``order_nos`` that are the buyer's."""
    started = sa.exists().where(payments.c.order_id == orders.c.id)
    pending = sa.exists().where(payments.c.order_id == orders.c.id, payments.c.status == "pending")
    closed = sa.exists().where(payments.c.order_id == orders.c.id, payments.c.status == "closed")
    query = sa.select(
        orders.c.order_no,
        orders.c.checked_out_at,
        started.label("started"),
        pending.label("pending"),
        closed.label("closed"),
    ).where(orders.c.buyer_id == buyer_id, orders.c.order_no.in_(list(order_nos)))
    return [
        (row.order_no, row.checked_out_at is not None, bool(row.started), bool(row.pending), bool(row.closed))
        for row in await conn.execute(query)
    ]
