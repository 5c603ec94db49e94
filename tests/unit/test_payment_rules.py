"""The verdicts on a provider's report: every combination a duplicate, late or odd report can hit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from flashport.domain.errors import Conflict
from flashport.domain.orders import OrderStatus
from flashport.domain.payments import (
    PaymentStatus,
    RefundReason,
    TradeReport,
    TradeState,
    Verdict,
    check_payable,
    judge,
)

DEADLINE = datetime(2026, 11, 25, 12, 20, tzinfo=UTC)


def report(
    state: TradeState = TradeState.PAID,
    amount: int = 10801,
    trade_no: str = "T1",
    paid_at: datetime | None = DEADLINE - timedelta(minutes=1),
) -> TradeReport:
    return TradeReport("FP1", trade_no, state, amount, paid_at)


def verdict(
    rep: TradeReport,
    payment: PaymentStatus = PaymentStatus.PENDING,
    order: OrderStatus = OrderStatus.PENDING_PAYMENT,
    trade_no: str | None = None,
    cancelled: bool = False,
) -> tuple[Verdict, RefundReason | None]:
    j = judge(
        rep,
        payment_status=payment,
        payment_amount_fen=10801,
        payment_trade_no=trade_no,
        order_status=order,
        order_deadline=DEADLINE,
        sale_cancelled=cancelled,
    )
    return j.verdict, j.refund_reason


def test_a_payment_in_time_pays_the_order() -> None:
    assert verdict(report()) == (Verdict.PAY_ORDER, None)
    assert verdict(report(paid_at=DEADLINE)) == (Verdict.PAY_ORDER, None)  # the deadline itself counts


def test_the_same_trade_again_changes_nothing_and_another_trade_is_refunded() -> None:
    assert verdict(report(), PaymentStatus.SUCCEEDED, OrderStatus.PAID, "T1") == (Verdict.NOTHING, None)
    assert verdict(report(trade_no="T2"), PaymentStatus.SUCCEEDED, OrderStatus.PAID, "T1") == (
        Verdict.REFUND,
        RefundReason.DUPLICATE_PAYMENT,
    )
    assert verdict(report(), PaymentStatus.PENDING, OrderStatus.PAID) == (
        Verdict.REFUND,
        RefundReason.DUPLICATE_PAYMENT,
    )


@pytest.mark.parametrize("status", [OrderStatus.EXPIRED, OrderStatus.CANCELLED])
def test_money_for_a_closed_order_goes_back(status: OrderStatus) -> None:
    assert verdict(report(), order=status) == (Verdict.REFUND, RefundReason.LATE_PAYMENT)


def test_paid_after_the_deadline_expires_the_order_and_refunds() -> None:
    late = report(paid_at=DEADLINE + timedelta(seconds=1))
    assert verdict(late) == (Verdict.EXPIRE_AND_REFUND, RefundReason.LATE_PAYMENT)


def test_a_cancelled_sale_refunds_a_still_pending_order() -> None:
    assert verdict(report(), cancelled=True) == (Verdict.REFUND, RefundReason.SALE_CANCELLED)


def test_a_wrong_amount_is_refunded_whatever_the_order() -> None:
    assert verdict(report(amount=1)) == (Verdict.REFUND, RefundReason.AMOUNT_MISMATCH)


def test_closed_and_waiting_trades() -> None:
    assert verdict(report(TradeState.CLOSED)) == (Verdict.CLOSE_PAYMENT, None)
    assert verdict(report(TradeState.CLOSED), PaymentStatus.SUCCEEDED, OrderStatus.PAID, "T1") == (
        Verdict.NOTHING,
        None,
    )
    assert verdict(report(TradeState.WAITING)) == (Verdict.NOTHING, None)


def test_only_a_checked_out_pending_order_inside_its_window_is_payable() -> None:
    now = DEADLINE - timedelta(minutes=5)
    check_payable(OrderStatus.PENDING_PAYMENT, DEADLINE, now)
    for status, deadline_now, checked_out, code in [
        (OrderStatus.PAID, now, True, "order_not_payable"),
        (OrderStatus.PENDING_PAYMENT, DEADLINE, True, "payment_window_closed"),
        (OrderStatus.PENDING_PAYMENT, now, False, "checkout_required"),
    ]:
        with pytest.raises(Conflict) as refused:
            check_payable(status, DEADLINE, deadline_now, checked_out=checked_out)
        assert refused.value.code == code
