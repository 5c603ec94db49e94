"""Read-only views of payments for operators."""

from __future__ import annotations

from flashport.adapters.db import payments_repo, refunds_repo
from flashport.domain.errors import NotFound
from flashport.services.context import Context
from flashport.services.payments.views import PaymentDetail, PaymentView, payment_detail_of, payment_of


async def list_payments(
    ctx: Context, *, status: str | None, order_no: str | None, limit: int
) -> list[PaymentView]:
    """Payments, newest first, of one status and one order if given."""
    async with ctx.read() as conn:
        rows = await payments_repo.listed(conn, status=status, order_no=order_no, limit=limit)
    return [payment_of(r._mapping) for r in rows]


async def payment_detail(ctx: Context, payment_id: int) -> PaymentDetail:
    """One payment with its refunds and every notification received for its trade."""
    async with ctx.read() as conn:
        row = await payments_repo.get(conn, payment_id)
        if row is None:
            raise NotFound(f"payment {payment_id} not found", code="payment_not_found")
        refund_rows = await refunds_repo.of_payment(conn, payment_id)
        notes = await payments_repo.notifications_of(conn, row.out_trade_no)
    return payment_detail_of(row._mapping, [r._mapping for r in refund_rows], [n._mapping for n in notes])
