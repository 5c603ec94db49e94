"""What follows customs' verdict: a released parcel ships (and only a released one), and a rejected
declaration that nobody fixed within the fix window is refunded, its annual quota given back."""

from __future__ import annotations

import logging

from flashport.adapters.db import declarations_repo, declared_orders_repo
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
        ids = await declarations_repo.released_ids(conn, batch)

    async def ship_one(declaration_id: int) -> int:
        try:
            return await ship(ctx, declaration_id)
        except (LogisticsUnavailable, LogisticsRefused) as exc:
            log.warning("declaration %s released but not shipped yet: %s", declaration_id, exc)
            return 0

    return await bounded.each(ctx.settings, ids, ship_one, "shipping")


async def ship(ctx: Context, declaration_id: int) -> int:
    """Dispatch one parcel. Refuses (:class:`Conflict`) unless customs released it: no other path
    hands goods to the carrier."""
    async with ctx.read() as conn:
        declaration = await declarations_repo.get(conn, declaration_id)
    order_no, logistics_no = declaration.order_no, declaration.logistics_no
    if declaration.state is DeclarationState.SHIPPED:
        return 0
    if declaration.state is not DeclarationState.RELEASED or logistics_no is None:
        raise Conflict(
            f"order {order_no} is {declaration.state}; only a released parcel ships", code="not_released"
        )
    waybill = await ctx.logistics.dispatch(logistics_no)
    async with ctx.transaction() as tx:
        if not await declarations_repo.mark_shipped(tx.conn, declaration_id, tx.now):
            return 0
        await tx.emit(
            "order.shipped",
            f"order:{order_no}",
            {"order_no": order_no, "logistics_no": logistics_no, "carrier_status": waybill.status},
        )
    return 1


async def refund_unfixed(ctx: Context, *, batch: int = 50) -> int:
    """Refund rejected declarations whose fix window has passed; returns how many."""
    async with ctx.read() as conn:
        ids = await declarations_repo.rejected_past_fix_window_ids(conn, ctx.clock(), batch)
    refunded = 0
    for declaration_id in ids:
        refund_id = await _refund(ctx, declaration_id)
        if refund_id is not None:
            refunded += 1
            await refunds.refund_now(ctx, refund_id)
    return refunded


async def _refund(ctx: Context, declaration_id: int) -> int | None:
    async with ctx.transaction() as tx:
        if not await declarations_repo.mark_refunded(tx.conn, declaration_id, tx.now):
            return None  # re-declared or refunded by another worker meanwhile
        declaration = await declarations_repo.get(tx.conn, declaration_id)
        order = await declared_orders_repo.order(tx.conn, declaration.order_id)
        payment = await declared_orders_repo.payment(tx.conn, order.id)
        if payment is None or payment.provider_trade_no is None:  # a declared order was paid
            raise RuntimeError(f"declared order {order.order_no} has no succeeded payment")
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
            f"order:{declaration.order_no}",
            {
                "order_no": declaration.order_no,
                "reason_code": declaration.reason_code,
                "refund_id": refund_id,
            },
        )
    return refund_id
