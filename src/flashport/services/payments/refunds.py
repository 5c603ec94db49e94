"""Refunds: money the platform received but may not keep (a late, duplicate or wrong payment).

A refund is requested inside the transaction that decided it (at most one per trade and reason), with
its ``refund.requested`` event. Then, by ``payment_refunds``:

- "call" (the default): it is sent to the provider after commit. The provider's refund call is
  idempotent on ``out_request_no``, so the worker can retry a failed or interrupted refund with
  growing intervals without paying back twice.
- "feed": nobody is called. The payment company, a partner with a key, takes the refund from the
  ``refund.requested`` events of its partner feed and makes it; the worker asks the provider (its
  refund query) whether the refund was made, with the same growing intervals, and marks it succeeded
  once. A refund the provider refuses stays pending with the provider's reason as ``last_error``
  (operators see it in the refunds list) and an error-level log line, and is asked about again.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from flashport.adapters.db import payments_repo, refunds_repo
from flashport.adapters.payments.interface import Exchange, RefundProgress
from flashport.domain.money import format_fen
from flashport.domain.payments import RefundReason
from flashport.services.context import Context, Tx

log = logging.getLogger(__name__)
MAX_BACKOFF = timedelta(hours=1)
# A refund's last error while the payment company has not taken it from its feed yet.
NOT_MADE_YET = "not made yet by the payment company (it takes refunds from its partner feed)"


def backoff(attempts: int) -> timedelta:
    """5 s, 10 s, 20 s, ... capped at an hour."""
    return min(timedelta(seconds=5 * 2 ** max(0, attempts - 1)), MAX_BACKOFF)


async def request_within(
    tx: Tx, payment: Any, trade_no: str, amount_fen: int, reason: RefundReason, order_no: str
) -> int | None:
    """Inside ``tx``: record a refund to make of ``payment`` (a row with its ``id``); None when this trade
    was already refunded, for this reason or another: a trade's money goes back once (a provider's
    repeated notification of a refused payment is judged again, and may name another reason). Callers
    hold the payment's row lock (settlement) or have just moved its declaration (fulfilment), so two
    requests for one trade do not race here."""
    if await refunds_repo.exists_for_trade(tx.conn, payment.id, trade_no):
        return None
    values = {
        "payment_id": payment.id,
        "provider_trade_no": trade_no,
        "amount_fen": amount_fen,
        "reason": reason.value,
        "status": refunds_repo.PENDING,
        "attempts": 0,
        "next_attempt_at": tx.now,
        "created_at": tx.now,
        "out_request_no": f"RF{payment.id}-{reason.value[:4].upper()}-{trade_no}"[:64],
    }
    refund_id = await refunds_repo.insert_once(tx.conn, values)
    if refund_id is None:
        return None
    await tx.emit(
        "refund.requested",
        f"order:{order_no}",
        {
            "refund_id": refund_id,
            "payment_id": payment.id,
            "trade_no": trade_no,
            "amount": format_fen(amount_fen),
            "reason": reason.value,
            "out_request_no": values["out_request_no"],
        },
    )
    return refund_id


async def record_exchange(ctx: Context, payment_id: int | None, exchange: Exchange) -> None:
    """Keep one exchange with the provider, in a transaction of its own (kept whatever follows)."""
    async with ctx.transaction() as tx:
        await payments_repo.record_exchange(tx.conn, payment_id, exchange, tx.now)


async def refund_now(ctx: Context, refund_id: int) -> bool:
    """Send one pending refund to the provider. True when the provider confirmed it. With
    ``payment_refunds`` "feed" nothing is sent: the payment company takes it from its feed, and the
    worker's :func:`retry_refunds` learns the outcome; False unless it already succeeded."""
    async with ctx.read() as conn:
        row = await refunds_repo.with_trade(conn, refund_id)
    if row is None or row.status != refunds_repo.PENDING:
        return row is not None
    if ctx.settings.payment_refunds == "feed":
        return False
    answer = await ctx.payments.refund(
        row.out_trade_no, row.provider_trade_no, row.amount_fen, row.out_request_no, row.reason
    )
    await record_exchange(ctx, row.payment_id, answer.exchange)
    if answer.ok:
        await _succeeded(ctx, row)
    else:
        await _not_yet(ctx, row, answer.error)
        log.warning("refund %s failed (attempt %d): %s", refund_id, row.attempts + 1, answer.error)
    return answer.ok


async def check_made(ctx: Context, refund_id: int) -> bool:
    """Ask the provider whether it made one pending refund (``payment_refunds`` "feed"). True when it
    did: the refund is then marked succeeded, once, whoever asks. Not made yet, or no answer: asked
    again later. Refused: the provider's reason is kept as ``last_error`` and logged as an error."""
    async with ctx.read() as conn:
        row = await refunds_repo.with_trade(conn, refund_id)
    if row is None or row.status != refunds_repo.PENDING:
        return row is not None
    check = await ctx.payments.check_refund(
        row.out_trade_no, row.provider_trade_no, row.out_request_no, row.amount_fen
    )
    await record_exchange(ctx, row.payment_id, check.exchange)
    if check.progress is RefundProgress.MADE:
        await _succeeded(ctx, row)
        return True
    if check.progress is RefundProgress.REFUSED:
        log.error("refund %s of order %s refused by the provider: %s", refund_id, row.order_no, check.reason)
        await _not_yet(ctx, row, f"refused by the payment company: {check.reason}")
    elif check.progress is RefundProgress.NOT_YET:
        await _not_yet(ctx, row, NOT_MADE_YET)
    else:
        log.warning("refund %s: no answer from the provider: %s", refund_id, check.reason)
        await _not_yet(ctx, row, check.reason)
    return False


async def _succeeded(ctx: Context, row: Any) -> None:
    async with ctx.transaction() as tx:
        if await refunds_repo.mark_succeeded(tx.conn, row.id, row.attempts + 1, tx.now):
            await tx.emit(
                "refund.succeeded",
                f"order:{row.order_no}",
                {"refund_id": row.id, "amount": format_fen(row.amount_fen), "reason": row.reason},
            )


async def _not_yet(ctx: Context, row: Any, error: str) -> None:
    async with ctx.transaction() as tx:
        next_attempt_at = tx.now + backoff(row.attempts + 1)
        await refunds_repo.record_failure(tx.conn, row.id, row.attempts + 1, error, next_attempt_at)


async def retry_refunds(ctx: Context, *, batch: int = 100) -> int:
    """Send the refunds that are due (or, with ``payment_refunds`` "feed", ask the provider whether it
    made them); returns how many the provider confirmed."""
    async with ctx.read() as conn:
        due = await refunds_repo.due(conn, ctx.clock(), batch)
    step = check_made if ctx.settings.payment_refunds == "feed" else refund_now
    return sum([await step(ctx, refund_id) for refund_id in due])
