"""A refund given by a person from the console: customer service or an operator pays back a paid order,
all of it or part, with the reason they typed.

Decide, apply once, then act: in one transaction the order's succeeded payment is locked, the refund
recorded (reason ``staff_refund``, who asked and why), the outbox event ``refund.requested`` and the
audit entry ``order.refunded`` written; after the commit the refund goes to the provider at once
(:func:`refunds.refund_now`, idempotent on its request number). If the provider does not confirm, the
refund stays pending and the worker retries it with growing intervals, as every refund. A trade's money
goes back once: a second refund of the same payment is refused (409 ``already_refunded``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flashport.adapters.db import console_repo, desk_repo, refunds_repo
from flashport.domain.errors import Conflict, FieldProblem, InvalidInput, NotFound
from flashport.domain.money import format_fen
from flashport.domain.payments import RefundReason
from flashport.domain.text import forbidden_character
from flashport.services.context import Context
from flashport.services.payments import refunds

MIN_REASON, MAX_REASON = 5, 500


@dataclass(frozen=True, slots=True)
class StaffRefund:
    refund_id: int
    order_no: str
    amount: str
    confirmed: bool  # the provider confirmed it; False: pending, the worker retries


def check_reason(reason: str) -> str:
    cleaned = " ".join(reason.split())
    if not MIN_REASON <= len(cleaned) <= MAX_REASON or forbidden_character(cleaned) is not None:
        raise InvalidInput(
            f"say why in {MIN_REASON} to {MAX_REASON} characters",
            code="invalid_reason",
            details=[FieldProblem("reason", f"{MIN_REASON} to {MAX_REASON} characters")],
            facts={"min": MIN_REASON, "max": MAX_REASON},
        )
    return cleaned


async def refund_order(
    ctx: Context, staff_id: int, order_no: str, reason: str, amount_fen: int | None = None
) -> StaffRefund:
    """Refund ``amount_fen`` (default: all of it) of the order's payment. 404 for no such order, 409 for
    an unpaid or already refunded one, 422 for a bad reason or amount."""
    note = check_reason(reason)
    async with ctx.transaction() as tx:
        order = await desk_repo.order(tx.conn, order_no)
        if order is None:
            raise NotFound(f"there is no order {order_no[:32]}", code="order_not_found")
        payment = await desk_repo.lock_paid_payment(tx.conn, order.id)
        if payment is None or payment.provider_trade_no is None:
            raise Conflict("this order has no payment to refund", code="not_paid")
        if await refunds_repo.exists_for_trade(tx.conn, payment.id, payment.provider_trade_no):
            raise Conflict("this payment was refunded already", code="already_refunded")
        amount = _amount(amount_fen, payment.amount_fen)
        row = _row(payment, amount, staff_id, note, tx.now)
        refund_id = await refunds_repo.insert_once(tx.conn, row)
        if refund_id is None:  # the same request number: a concurrent click won
            raise Conflict("this payment was refunded already", code="already_refunded")
        details = {"refund_id": refund_id, "amount": format_fen(amount), "reason": note}
        await tx.emit(
            "refund.requested",
            f"order:{order_no}",
            {
                **details,
                "payment_id": payment.id,
                "trade_no": payment.provider_trade_no,
                "out_request_no": row["out_request_no"],
                "staff_id": staff_id,
            },
        )
        await console_repo.record(tx.conn, staff_id, "order.refunded", f"order:{order_no}", details, tx.now)
    confirmed = await refunds.refund_now(ctx, refund_id)
    return StaffRefund(refund_id, order_no, format_fen(amount), confirmed)


def _amount(asked: int | None, paid: int) -> int:
    if asked is None:
        return paid
    if not 1 <= asked <= paid:
        raise InvalidInput(
            f"a refund is between 0.01 and the {format_fen(paid)} paid",
            code="invalid_amount",
            details=[FieldProblem("amount", f"0.01 to {format_fen(paid)}")],
            facts={"paid": format_fen(paid)},
        )
    return asked


def _row(payment: Any, amount: int, staff_id: int, note: str, now: datetime) -> dict[str, Any]:
    trade_no = str(payment.provider_trade_no)
    return {
        "payment_id": payment.id,
        "provider_trade_no": trade_no,
        "amount_fen": amount,
        "reason": RefundReason.STAFF_REFUND.value,
        "status": refunds_repo.PENDING,
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
        "out_request_no": f"RF{payment.id}-STAF-{trade_no}"[:64],
        "requested_by": staff_id,
        "note": note,
    }
