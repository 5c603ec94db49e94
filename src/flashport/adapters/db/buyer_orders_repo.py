"""SQL for what a buyer's storefront pages follow of their orders: the newest orders' statuses, and how
far each unpaid order has gone between checkout and payment.

Every query is scoped by buyer and served by the ``(buyer_id, created_at)`` index or the order number's
unique index; each function takes a connection the caller owns and never commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from flashport.adapters.db.schema import orders, payments, refunds, sale_events

# Refunds that settlement decides when money arrives (not after-sales: cancellations, returns, customs
# refusals and staff refunds have their own notes on the order page).
SETTLEMENT_REFUNDS = (
    "late_payment",
    "duplicate_payment",
    "amount_mismatch",
    "payer_mismatch",
    "annual_limit",
    "sale_cancelled",
)


@dataclass(frozen=True)
class StageRow:
    order_no: str
    checked_out: bool
    started: bool  # a payment was opened
    pending: bool  # the latest payment is pending at the provider (or has just succeeded)
    closed: bool  # the latest payment was closed unpaid or refused
    refund_reason: str | None  # the settlement refund of the order's latest payment, if any
    refund_done: bool  # that refund reached the payer
    sale_cancelled: bool  # the order's sale was called off


async def newest_statuses(conn: AsyncConnection, buyer_id: int, *, limit: int) -> list[tuple[str, str, bool]]:
    """(order number, status, a payment pending at the provider) of the buyer's ``limit`` newest
    orders, newest first. The last is what a page waiting for a payment's confirmation watches: it
    turns false when the provider's word settles the payment either way."""
    pending = sa.exists().where(payments.c.order_id == orders.c.id, payments.c.status == "pending")
    query = (
        sa.select(orders.c.order_no, orders.c.status, pending.label("pending"))
        .where(orders.c.buyer_id == buyer_id)
        .order_by(orders.c.created_at.desc())
        .limit(limit)
    )
    return [(row.order_no, row.status, bool(row.pending)) for row in await conn.execute(query)]


async def payment_stages(conn: AsyncConnection, buyer_id: int, order_nos: Sequence[str]) -> list[StageRow]:
    """Where each of those of ``order_nos`` that are the buyer's stands with its payments: see
    :class:`StageRow`. One statement; the refund is read from the order's latest payment attempt
    only, so a refusal the buyer has since paid past is not shown again."""
    latest = sa.select(payments.c.id).where(payments.c.order_id == orders.c.id)
    latest = latest.order_by(payments.c.attempt.desc()).limit(1).correlate(orders)
    latest_payment = latest.scalar_subquery()
    # The latest attempt's status decides, read in this one statement: an earlier attempt closed says
    # nothing once the buyer has paid anew.
    latest_status = latest.with_only_columns(payments.c.status).scalar_subquery()
    latest_refund = (
        sa.select(refunds.c.reason, refunds.c.status)
        .where(refunds.c.payment_id == latest_payment, refunds.c.reason.in_(SETTLEMENT_REFUNDS))
        .order_by(refunds.c.id.desc())
        .limit(1)
        .correlate(orders)
    )
    refund_reason = latest_refund.with_only_columns(refunds.c.reason).scalar_subquery()
    refund_status = latest_refund.with_only_columns(refunds.c.status).scalar_subquery()
    cancelled_sale = sa.exists().where(
        sale_events.c.id == orders.c.event_id, sale_events.c.state == "cancelled"
    )
    query = sa.select(
        orders.c.order_no,
        orders.c.checked_out_at,
        latest_status.label("latest_status"),
        refund_reason.label("refund_reason"),
        refund_status.label("refund_status"),
        cancelled_sale.label("sale_cancelled"),
    ).where(orders.c.buyer_id == buyer_id, orders.c.order_no.in_(list(order_nos)))
    return [
        StageRow(
            row.order_no,
            row.checked_out_at is not None,
            row.latest_status is not None,
            # Succeeded: the order is paid in the same transaction, so an order read as unpaid just
            # before is being confirmed, not waiting for a payment (never a Pay button then).
            row.latest_status in ("pending", "succeeded"),
            row.latest_status == "closed",
            row.refund_reason,
            row.refund_status == "succeeded",
            bool(row.sale_cancelled),
        )
        for row in await conn.execute(query)
    ]
