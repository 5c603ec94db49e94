"""What follows customs' verdict: a released parcel ships (and only a released one), and a rejected
declaration that nobody fixed within the fix window is refunded, its annual quota given back."""

from __future__ import annotations

import logging

import sqlalchemy as sa

from flashport.adapters.db.schema import declarations, orders, payments
from flashport.adapters.logistics.interface import LogisticsRefused, LogisticsUnavailable
from flashport.domain.declarations import DeclarationState
from flashport.domain.errors import Conflict
from flashport.domain.limits import customs_year
from flashport.domain.payments import RefundReason
from flashport.services.context import Context
from flashport.services.customs import bounded
from flashport.services.orders import quota
from flashport.services.payments import refunds

log = logging.getLogger(__name__)


async def ship_released(ctx: Context, *, batch: int = 500) -> int:
    """Hand every released parcel to the carrier; returns how many shipped."""
    async with ctx.read() as conn:
        ids = (
            await conn.scalars(
                sa.select(declarations.c.id)
                .where(declarations.c.state == DeclarationState.RELEASED.value)
                .order_by(declarations.c.released_at)
                .limit(batch)
            )
        ).all()

    async def ship_one(declaration_id: int) -> int:
        try:
            return await ship(ctx, declaration_id)
        except (LogisticsUnavailable, LogisticsRefused) as exc:
            log.warning("declaration %s released but not shipped yet: %s", declaration_id, exc)
            return 0

    return await bounded.each(ctx, ids, ship_one, "shipping")


async def ship(ctx: Context, declaration_id: int) -> int:
    """Dispatch one parcel. Refuses (:class:`Conflict`) unless customs released it: no other path
    hands goods to the carrier."""
    assert ctx.logistics is not None
    async with ctx.read() as conn:
        row = (await conn.execute(sa.select(declarations).where(declarations.c.id == declaration_id))).one()
    if row.state == DeclarationState.SHIPPED.value:
        return 0
    if row.state != DeclarationState.RELEASED.value or row.logistics_no is None:
        raise Conflict(
            f"order {row.order_no} is {row.state}; only a released parcel ships", code="not_released"
        )
    waybill = await ctx.logistics.dispatch(row.logistics_no)
    async with ctx.transaction() as tx:
        moved = await tx.conn.execute(
            declarations.update()
            .where(
                declarations.c.id == declaration_id, declarations.c.state == DeclarationState.RELEASED.value
            )
            .values(state=DeclarationState.SHIPPED.value, shipped_at=tx.now, updated_at=tx.now)
        )
        if moved.rowcount != 1:
            return 0
        await tx.emit(
            "order.shipped",
            f"order:{row.order_no}",
            {"order_no": row.order_no, "logistics_no": row.logistics_no, "carrier_status": waybill.status},
        )
    return 1


async def refund_unfixed(ctx: Context, *, batch: int = 50) -> int:
    """Refund rejected declarations whose fix window has passed; returns how many."""
    now = ctx.clock()
    async with ctx.read() as conn:
        ids = (
            await conn.scalars(
                sa.select(declarations.c.id)
                .where(
                    declarations.c.state == DeclarationState.REJECTED.value,
                    declarations.c.refund_after <= now,
                )
                .limit(batch)
            )
        ).all()
    refunded = 0
    for declaration_id in ids:
        refund_id = await _refund(ctx, declaration_id)
        if refund_id is not None:
            refunded += 1
            await refunds.refund_now(ctx, refund_id)
    return refunded


async def _refund(ctx: Context, declaration_id: int) -> int | None:
    async with ctx.transaction() as tx:
        moved = await tx.conn.execute(
            declarations.update()
            .where(
                declarations.c.id == declaration_id, declarations.c.state == DeclarationState.REJECTED.value
            )
            .values(state=DeclarationState.REFUNDED.value, updated_at=tx.now)
        )
        if moved.rowcount != 1:
            return None  # re-declared or refunded by another worker meanwhile
        row = (
            await tx.conn.execute(sa.select(declarations).where(declarations.c.id == declaration_id))
        ).one()
        order = (await tx.conn.execute(sa.select(orders).where(orders.c.id == row.order_id))).one()
        payment = (
            await tx.conn.execute(
                sa.select(payments).where(payments.c.order_id == order.id, payments.c.status == "succeeded")
            )
        ).one()
        refund_id = await refunds.request_within(
            tx,
            payment,
            payment.provider_trade_no,
            payment.amount_fen,
            RefundReason.CUSTOMS_REJECTED,
            order.order_no,
        )
        if order.buyer_id_hash is not None and order.paid_at is not None:
            await quota.release_annual_quota_within(
                tx, order.buyer_id_hash, customs_year(order.paid_at), quota.quota_of(order)
            )
        await tx.emit(
            "declaration.refunded",
            f"order:{row.order_no}",
            {"order_no": row.order_no, "reason_code": row.reason_code, "refund_id": refund_id},
        )
    return refund_id
