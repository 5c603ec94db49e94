"""Paying orders: starting a payment, settling what the provider reports (notification or query),
and refunding money that cannot be kept (rules 5 and 7).

Every report goes through :func:`settle`, which locks the payment and the order rows, asks the domain
for a verdict (:func:`flashport.domain.payments.judge`) and applies it with conditional updates, so a
duplicate, late or out-of-order report changes nothing twice. Provider calls (refunds) happen only
after the transaction commits.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from flashport.adapters.db import orders_repo, payments_repo
from flashport.adapters.identity_vault import mask_id_numbers_in
from flashport.adapters.payments.interface import Buyer, Checkout, PaymentProvider
from flashport.domain.errors import NotFound, ServiceUnavailable
from flashport.domain.money import format_fen
from flashport.domain.orders import OrderStatus
from flashport.domain.payments import (
    Judgement,
    PaymentStatus,
    RefundReason,
    TradeReport,
    Verdict,
    check_payable,
    judge,
)
from flashport.services.context import Context, Tx
from flashport.services.customs import opening as declaration_opening
from flashport.services.orders import lifecycle as order_service
from flashport.services.orders import quota
from flashport.services.payments import refunds
from flashport.services.payments.views import StartedPayment, started_payment_of

log = logging.getLogger(__name__)


def _provider(ctx: Context) -> PaymentProvider:
    return ctx.payments


async def start_payment(ctx: Context, buyer_id: int, order_no: str) -> StartedPayment:
    """The order's payment (made once; asking again returns the same one) and where to pay it."""
    provider = _provider(ctx)
    async with ctx.read() as conn:
        order = await orders_repo.row_for_buyer(conn, buyer_id, order_no)
    if order is None:
        raise NotFound(f"order {order_no} not found", code="order_not_found")
    check_payable(
        OrderStatus(order.status),
        order.payment_deadline,
        ctx.clock(),
        checked_out=order.checked_out_at is not None,
    )
    payment = await _open_payment(ctx, order)
    checkout = Checkout(
        payment["out_trade_no"],
        payment["amount_fen"],
        f"Flashport order {order_no}",
        order.payment_deadline,
        _buyer_of(ctx, order),
    )
    return started_payment_of(payment, provider.checkout_url(checkout))


def _buyer_of(ctx: Context, order: Any) -> Buyer | None:
    """The order's checked-out buyer, the only person the provider will let pay (rule 8). The ID number
    is opened from the vault for this one call and goes nowhere else."""
    if order.buyer_name is None or order.buyer_id_cipher is None:
        return None
    return Buyer(order.buyer_name, ctx.vault.open(order.buyer_id_cipher))


async def _open_payment(ctx: Context, order: Any) -> Mapping[str, Any]:
    """The order's live payment (a payment row), made now if it has none."""
    for _ in range(3):  # two first requests racing: the loser re-reads the winner's payment
        async with ctx.transaction() as tx:
            # Checkout locks the same row and refuses once a payment exists: the amount we charge is
            # the one a finished checkout left, never one changing under us.
            order = await orders_repo.lock(tx.conn, order.id)
            check_payable(
                OrderStatus(order.status),
                order.payment_deadline,
                tx.now,
                checked_out=order.checked_out_at is not None,
            )
            rows = await payments_repo.of_order(tx.conn, order.id)
            live = next((r for r in rows if r.status != PaymentStatus.CLOSED.value), None)
            if live is not None:
                return live._mapping
            attempt = len(rows) + 1  # a declined (closed) trade cannot be reused: open the next one
            values = {
                "order_id": order.id,
                "order_no": order.order_no,
                "attempt": attempt,
                "provider": _provider(ctx).name,
                "amount_fen": order.total_fen,
                "out_trade_no": order.order_no if attempt == 1 else f"{order.order_no}-{attempt}",
                "status": PaymentStatus.PENDING.value,
                "created_at": tx.now,
                "updated_at": tx.now,
            }
            payment_id = await payments_repo.insert(tx.conn, values)
            if payment_id is None:
                continue
            await tx.emit(
                "payment.created",
                f"order:{order.order_no}",
                {
                    "payment_id": payment_id,
                    "out_trade_no": values["out_trade_no"],
                    "amount": format_fen(order.total_fen),
                },
            )
            return {
                "id": payment_id,
                **values,
                "provider_trade_no": None,
                "payer_name": None,
                "payer_id_masked": None,
                "paid_at": None,
            }
    raise ServiceUnavailable("could not open a payment; please retry", code="payment_busy")


async def handle_notification(ctx: Context, form: Mapping[str, str]) -> bool:
    """Process one asynchronous notification; True means answer ``success``. Every notification is
    stored with its verification result, accepted or not."""
    check = _provider(ctx).read_notification(form)
    fields = _masked(check.fields)
    if check.report is None:
        log.warning(
            "payment notification rejected: %s (out_trade_no=%s)", check.reason, fields.get("out_trade_no")
        )
        async with ctx.transaction() as tx:
            await _record(tx, fields, check.signature_valid, "rejected", check.reason)
        return False
    outcome = await settle(ctx, check.report, source="notification", fields=fields)
    return outcome != "unknown_trade"


def _masked(fields: Mapping[str, str]) -> dict[str, str]:
    """The notification as stored: a standard one carries no ID number, but whatever arrives is kept
    masked."""
    return {name: mask_id_numbers_in(value) for name, value in fields.items()}


async def _record(tx: Tx, fields: Mapping[str, str], valid: bool, outcome: str, reason: str) -> None:
    await payments_repo.record_notification(
        tx.conn, fields, received_at=tx.now, signature_valid=valid, outcome=outcome, reason=reason
    )


async def settle(
    ctx: Context, report: TradeReport, *, source: str, fields: Mapping[str, str] | None = None
) -> str:
    """Apply what the provider says about a trade. Returns the outcome recorded."""
    after: list[Any] = []
    async with ctx.transaction() as tx:
        payment = await payments_repo.lock_by_out_trade_no(tx.conn, report.out_trade_no)
        if payment is None:
            outcome, note = "unknown_trade", "no payment with this out_trade_no"
        else:
            order = await orders_repo.lock(tx.conn, payment.order_id)
            # A share lock on the event: cancelling the sale (which locks it exclusively) waits for
            # settlements in flight, and settlements after it see it cancelled.
            event_state = await payments_repo.share_lock_sale_state(tx.conn, order.event_id)
            judgement = judge(
                report,
                payment_status=PaymentStatus(payment.status),
                payment_amount_fen=payment.amount_fen,
                payment_trade_no=payment.provider_trade_no,
                order_status=OrderStatus(order.status),
                order_deadline=order.payment_deadline,
                sale_cancelled=event_state == "cancelled",
            )
            judgement = await _apply(ctx, tx, judgement, report, payment, order, after)
            outcome, note = judgement.verdict.value, judgement.note
        if fields is not None:
            await _record(tx, fields, True, outcome, note)
    for job in after:
        await job()
    return outcome


async def _apply(
    ctx: Context,
    tx: Tx,
    judgement: Judgement,
    report: TradeReport,
    payment: Any,
    order: Any,
    after: list[Any],
) -> Judgement:
    """Carry out the verdict; returns the judgement finally applied (compliance may turn a payment
    into a refund)."""
    verdict = judgement.verdict
    if verdict is Verdict.NOTHING:
        return judgement
    if verdict is Verdict.CLOSE_PAYMENT:
        await payments_repo.close(tx.conn, payment.id, tx.now)
        await tx.emit("payment.closed", f"order:{order.order_no}", {"payment_id": payment.id})
        return judgement
    if verdict is Verdict.PAY_ORDER:
        refusal = await _compliance_refusal(ctx, tx, report, order)
        if refusal is not None:
            judgement = Judgement(Verdict.REFUND, refusal, refusal.value)
            verdict = judgement.verdict
    mismatch = judgement.refund_reason in UNUSABLE_TRADES
    if payment.status == PaymentStatus.PENDING.value:
        if mismatch:  # a trade this order cannot keep: refunded, and the buyer may pay anew
            await payments_repo.close(tx.conn, payment.id, tx.now)
        else:  # the money was taken under this payment, even if it has to go back
            await _mark_succeeded(tx, report, payment, order)
    if verdict is Verdict.PAY_ORDER:
        await _pay_order(ctx, tx, report, order)
        return judgement
    if verdict is Verdict.EXPIRE_AND_REFUND or judgement.refund_reason in ORDER_CLOSING_REFUNDS:
        # Past its deadline, never payable within the yearly limit, or its sale is off: the order
        # closes and its units return.
        to = OrderStatus.EXPIRED if verdict is Verdict.EXPIRE_AND_REFUND else OrderStatus.CANCELLED
        closed = await order_service.close_within(ctx, tx, order.id, to)
        if closed is not None and closed.owed:
            after.append(lambda: order_service.release_after_commit(ctx, closed.owed))
    assert judgement.refund_reason is not None
    refund_id = await refunds.request_within(
        tx, payment, report.trade_no, report.amount_fen, judgement.refund_reason, order.order_no
    )
    if refund_id is not None:
        after.append(lambda: refunds.refund_now(ctx, refund_id))
    return judgement


ORDER_CLOSING_REFUNDS = frozenset({RefundReason.ANNUAL_LIMIT, RefundReason.SALE_CANCELLED})
# A refund for these reasons also closes the payment: the buyer may pay the order anew (correctly).
UNUSABLE_TRADES = frozenset(
    {RefundReason.AMOUNT_MISMATCH, RefundReason.PAYER_MISMATCH, RefundReason.ANNUAL_LIMIT}
)


async def _compliance_refusal(ctx: Context, tx: Tx, report: TradeReport, order: Any) -> RefundReason | None:
    """Rule 8 at the moment money arrives: the payment must fit the identity's yearly limit (an atomic
    reservation, so two orders of one identity paying at once cannot both squeeze under it).

    Payer = buyer is not checked here: the trade was opened for the buyer alone (``ext_user_info``
    with ``need_check_info`` = ``T``), so the provider refused anyone else at payment time; a standard
    notification carries no payer identity to compare. The payment company checks it once more when
    it declares the payment to customs (``identity_check``, see ``services.customs.partners``)."""
    if order.buyer_id_hash is None:
        return None  # no checkout (orders from before compliance); no identity to count against
    if not await quota.reserve_order_quota_within(ctx, tx, order, report.paid_at or tx.now):
        return RefundReason.ANNUAL_LIMIT
    return None


async def _mark_succeeded(tx: Tx, report: TradeReport, payment: Any, order: Any) -> None:
    # The payer is the identity the trade was opened for: the provider let no one else pay it.
    await payments_repo.mark_succeeded(
        tx.conn,
        payment.id,
        trade_no=report.trade_no,
        payer_name=order.buyer_name,
        payer_id_cipher=order.buyer_id_cipher,
        payer_id_masked=order.buyer_id_masked,
        paid_at=report.paid_at or tx.now,
        now=tx.now,
    )
    await tx.emit(
        "payment.succeeded",
        f"order:{order.order_no}",
        {
            "payment_id": payment.id,
            "out_trade_no": payment.out_trade_no,
            "trade_no": report.trade_no,
            "amount": format_fen(report.amount_fen),
            "payer_name": order.buyer_name,
            "payer_id_number": order.buyer_id_masked,
        },
    )


async def _pay_order(ctx: Context, tx: Tx, report: TradeReport, order: Any) -> None:
    if not await orders_repo.mark_paid(tx.conn, order.id, report.paid_at or tx.now):
        # impossible under the row lock; refuse loudly rather than guess
        raise RuntimeError(f"order {order.order_no} changed under its lock")
    await ctx.stock.confirm_within(tx.conn, dict(order._mapping))
    await tx.emit(
        "order.paid",
        f"order:{order.order_no}",
        {
            "order_id": order.id,
            "order_no": order.order_no,
            "trade_no": report.trade_no,
            "amount": format_fen(report.amount_fen),
        },
    )
    if order.checked_out_at is not None:  # orders from before checkout existed have nothing to declare
        await declaration_opening.open_within(tx, order)


async def recheck_pending_payments(ctx: Context, *, batch: int = 100) -> int:
    """Ask the provider about payments that stayed pending too long (a lost notification) and settle
    them as if notified; each pending payment is asked about at most once per recheck interval.
    Returns how many reports changed something."""
    provider = _provider(ctx)
    now = ctx.clock()
    due = now - timedelta(seconds=ctx.settings.payment_recheck_seconds)
    async with ctx.read() as conn:
        rows = await payments_repo.pending_due_for_recheck(conn, due, batch)
    changed = 0
    for row in rows:
        report, exchange = await provider.query(row.out_trade_no)
        await refunds.record_exchange(ctx, row.id, exchange)
        async with ctx.transaction() as tx:
            await payments_repo.mark_checked(tx.conn, row.id, tx.now)
        if report is not None and await settle(ctx, report, source="query") != Verdict.NOTHING.value:
            changed += 1
    return changed
