"""Payments: what to do with a provider's word about a trade (rules 5 and 7).

The decision is a pure function of the report and the current state, so a duplicate or out-of-order
notification reaches the same verdict, and the database's conditional updates make it happen once.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from flashport.domain.errors import Conflict
from flashport.domain.orders import OrderStatus


class PaymentStatus(enum.StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    CLOSED = "closed"  # the provider closed the trade unpaid (declined, timed out)


class RefundReason(enum.StrEnum):
    LATE_PAYMENT = "late_payment"  # paid after the order expired or was cancelled
    DUPLICATE_PAYMENT = "duplicate_payment"  # the order was already paid by another trade
    AMOUNT_MISMATCH = "amount_mismatch"  # money moved, but not the amount we asked for
    # The payer was not the order's real-name buyer: refunds made before the provider enforced payer =
    # buyer at payment time (ext_user_info); no longer decided now, kept to read those refunds.
    PAYER_MISMATCH = "payer_mismatch"
    ANNUAL_LIMIT = "annual_limit"  # paying would take the buyer's identity past the yearly limit
    SALE_CANCELLED = "sale_cancelled"  # the operator called the sale off while the order was unpaid
    CUSTOMS_REJECTED = "customs_rejected"  # customs refused the declaration and it was not fixed in time
    BUYER_CANCELLED = "buyer_cancelled"  # the buyer called the paid order off before customs released it
    RETURNED = "returned"  # the buyer sent the parcel back and customs took the return (CEB625)
    STAFF_REFUND = "staff_refund"  # given from the console by a person, with the reason they typed


class TradeState(enum.StrEnum):
    PAID = "paid"
    WAITING = "waiting"
    CLOSED = "closed"


@dataclass(frozen=True)
class TradeReport:
    """What the provider says about one trade, from a notification or a query."""

    out_trade_no: str
    trade_no: str
    state: TradeState
    amount_fen: int
    paid_at: datetime | None = None


class Verdict(enum.Enum):
    PAY_ORDER = "pay_order"
    EXPIRE_AND_REFUND = "expire_and_refund"  # still pending, but paid after its deadline
    REFUND = "refund"
    CLOSE_PAYMENT = "close_payment"
    NOTHING = "nothing"  # a duplicate, or news that changes nothing


@dataclass(frozen=True)
class Judgement:
    verdict: Verdict
    refund_reason: RefundReason | None = None
    note: str = ""


def judge(
    report: TradeReport,
    *,
    payment_status: PaymentStatus,
    payment_amount_fen: int,
    payment_trade_no: str | None,
    order_status: OrderStatus,
    order_deadline: datetime,
    sale_cancelled: bool = False,
) -> Judgement:
    if report.state is TradeState.CLOSED:
        if payment_status is PaymentStatus.PENDING:
            return Judgement(Verdict.CLOSE_PAYMENT, note="trade closed unpaid")
        return Judgement(Verdict.NOTHING, note="trade closed; payment already settled")
    if report.state is TradeState.WAITING:
        return Judgement(Verdict.NOTHING, note="buyer has not paid yet")
    if report.amount_fen != payment_amount_fen:
        return Judgement(
            Verdict.REFUND,
            RefundReason.AMOUNT_MISMATCH,
            f"paid {report.amount_fen} fen, expected {payment_amount_fen}",
        )
    if payment_status is PaymentStatus.SUCCEEDED:
        if report.trade_no == payment_trade_no:
            return Judgement(Verdict.NOTHING, note="duplicate notification")
        return Judgement(Verdict.REFUND, RefundReason.DUPLICATE_PAYMENT, "a second trade for a paid order")
    if order_status is OrderStatus.PAID:
        return Judgement(Verdict.REFUND, RefundReason.DUPLICATE_PAYMENT, "order already paid")
    if order_status is not OrderStatus.PENDING_PAYMENT:
        return Judgement(Verdict.REFUND, RefundReason.LATE_PAYMENT, f"order is {order_status.value}")
    if sale_cancelled:
        return Judgement(Verdict.REFUND, RefundReason.SALE_CANCELLED, "the sale was cancelled")
    if report.paid_at is not None and report.paid_at > order_deadline:
        return Judgement(Verdict.EXPIRE_AND_REFUND, RefundReason.LATE_PAYMENT, "paid after the deadline")
    return Judgement(Verdict.PAY_ORDER)


def check_payable(
    status: OrderStatus, deadline: datetime, now: datetime, *, checked_out: bool = True
) -> None:
    """A buyer may start paying only a pending, checked-out order inside its payment window."""
    if status is not OrderStatus.PENDING_PAYMENT:
        raise Conflict(f"a {status.value} order cannot be paid", code="order_not_payable")
    if now >= deadline:
        raise Conflict("the payment window of this order has closed", code="payment_window_closed")
    if not checked_out:
        raise Conflict(
            "complete checkout first: the real-name buyer, the consignee and the tax decide the amount",
            code="checkout_required",
        )
