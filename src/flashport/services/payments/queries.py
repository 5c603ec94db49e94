"""Read-only views of payments for operators."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from flashport.adapters.db.schema import payment_notifications, payments, refunds
from flashport.domain.errors import NotFound
from flashport.domain.money import format_fen
from flashport.services.context import Context
from flashport.services.payments.settlement import payment_view


async def list_payments(
    ctx: Context, *, status: str | None, order_no: str | None, limit: int
) -> list[dict[str, Any]]:
    query = sa.select(payments).order_by(payments.c.id.desc()).limit(limit)
    if status:
        query = query.where(payments.c.status == status)
    if order_no:
        query = query.where(payments.c.order_no == order_no)
    async with ctx.read() as conn:
        return [payment_view(r._mapping) for r in await conn.execute(query)]


async def payment_detail(ctx: Context, payment_id: int) -> dict[str, Any]:
    async with ctx.read() as conn:
        row = (await conn.execute(sa.select(payments).where(payments.c.id == payment_id))).first()
        if row is None:
            raise NotFound(f"payment {payment_id} not found", code="payment_not_found")
        refund_rows = (
            await conn.execute(
                sa.select(refunds).where(refunds.c.payment_id == payment_id).order_by(refunds.c.id)
            )
        ).all()
        notes = (
            await conn.execute(
                sa.select(payment_notifications)
                .where(payment_notifications.c.out_trade_no == row.out_trade_no)
                .order_by(payment_notifications.c.id)
            )
        ).all()
    return {
        **payment_view(row._mapping),
        "refunds": [{**r._mapping, "amount": format_fen(r.amount_fen)} for r in refund_rows],
        "notifications": [dict(n._mapping) for n in notes],
    }
