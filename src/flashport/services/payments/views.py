"""What the payment services answer: a payment, the payment just started, and the operators' detail.

Money is text with two decimals, as the API shows it; the payer's ID number is always masked. The API's
response models have the same fields, so these serialize unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flashport.domain.money import format_fen


@dataclass(frozen=True)
class PaymentView:
    id: int
    order_no: str
    out_trade_no: str
    provider: str
    amount: str
    status: str
    provider_trade_no: str | None
    payer_name: str | None
    payer_id_number: str | None  # masked
    paid_at: datetime | None
    created_at: datetime


@dataclass(frozen=True)
class StartedPayment(PaymentView):
    """The order's payment and the provider's page to send the buyer to."""

    redirect_url: str


@dataclass(frozen=True)
class RefundView:
    id: int
    out_request_no: str
    provider_trade_no: str
    amount: str
    reason: str
    status: str
    attempts: int
    last_error: str | None
    refunded_at: datetime | None
    created_at: datetime


@dataclass(frozen=True)
class NotificationView:
    """One notification received, whether it was accepted, and why."""

    id: int
    received_at: datetime
    notify_id: str | None
    trade_no: str | None
    trade_status: str | None
    signature_valid: bool
    outcome: str
    reason: str


@dataclass(frozen=True)
class PaymentDetail(PaymentView):
    refunds: tuple[RefundView, ...]
    notifications: tuple[NotificationView, ...]


def _payment_fields(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "order_no": row["order_no"],
        "out_trade_no": row["out_trade_no"],
        "provider": row["provider"],
        "amount": format_fen(row["amount_fen"]),
        "status": row["status"],
        "provider_trade_no": row["provider_trade_no"],
        "payer_name": row["payer_name"],
        "payer_id_number": row["payer_id_masked"],
        "paid_at": row["paid_at"],
        "created_at": row["created_at"],
    }


def payment_of(row: Mapping[str, Any]) -> PaymentView:
    """The view of a payment row."""
    return PaymentView(**_payment_fields(row))


def started_payment_of(row: Mapping[str, Any], redirect_url: str) -> StartedPayment:
    return StartedPayment(**_payment_fields(row), redirect_url=redirect_url)


def payment_detail_of(
    row: Mapping[str, Any], refunds: list[Mapping[str, Any]], notifications: list[Mapping[str, Any]]
) -> PaymentDetail:
    return PaymentDetail(
        **_payment_fields(row),
        refunds=tuple(_refund(r) for r in refunds),
        notifications=tuple(_notification(n) for n in notifications),
    )


def _refund(row: Mapping[str, Any]) -> RefundView:
    return RefundView(
        id=row["id"],
        out_request_no=row["out_request_no"],
        provider_trade_no=row["provider_trade_no"],
        amount=format_fen(row["amount_fen"]),
        reason=row["reason"],
        status=row["status"],
        attempts=row["attempts"],
        last_error=row["last_error"],
        refunded_at=row["refunded_at"],
        created_at=row["created_at"],
    )


def _notification(row: Mapping[str, Any]) -> NotificationView:
    return NotificationView(
        id=row["id"],
        received_at=row["received_at"],
        notify_id=row["notify_id"],
        trade_no=row["trade_no"],
        trade_status=row["trade_status"],
        signature_valid=row["signature_valid"],
        outcome=row["outcome"],
        reason=row["reason"],
    )


def refund_of(row: Mapping[str, Any]) -> RefundView:
    """The view of a refund row (the console's order desk and refunds list)."""
    return _refund(row)
