"""A buyer calls off a paid order before customs released it: the payment is refunded in full, the
annual quota given back, and the declaration goes to the withdrawal stage
(:mod:`flashport.services.customs.withdrawal`), which deletes the documents sent (appType 3) and has
the carrier cancel its waybill.

Only while customs has not accepted the inventory list (pending, declared, received, or rejected):
an accepted list is withdrawn with a CEB623 naming customs' inventory number, which this platform does
not send yet (the codec builds it: :mod:`flashport.ceb.withdrawals`), so such an order is refused with
``cancel_needs_customs``; a released one with ``already_released`` (its way back is a return).
"""

from __future__ import annotations

from flashport.adapters.db import aftersales_repo, declared_orders_repo, orders_repo
from flashport.domain.declarations import DeclarationState
from flashport.domain.errors import Conflict, NotFound
from flashport.domain.limits import customs_year
from flashport.domain.payments import RefundReason
from flashport.services.context import Context
from flashport.services.orders import quota
from flashport.services.payments import refunds

CANCELLABLE = (
    DeclarationState.PENDING.value,
    DeclarationState.DECLARED.value,
    DeclarationState.RECEIVED.value,
    DeclarationState.REJECTED.value,
)
RELEASED = (DeclarationState.RELEASED.value, DeclarationState.SHIPPED.value)


async def cancel_before_release(ctx: Context, buyer_id: int, order_no: str) -> int:
    """Cancel the buyer's paid order; returns the refund's id. The refund is sent at once and, if the
    provider is down, by the refunds job later."""
    async with ctx.transaction() as tx:
        order_id = await orders_repo.id_for_buyer(tx.conn, buyer_id, order_no)
        if order_id is None:
            raise NotFound(f"order {order_no} not found", code="order_not_found")
        moved = await aftersales_repo.cancel_declaration(tx.conn, order_no, CANCELLABLE, tx.now)
        if moved is None:
            raise await _why_not(ctx, order_no)
        order = await declared_orders_repo.order(tx.conn, order_id)
        payment = await declared_orders_repo.payment(tx.conn, order_id)
        if payment is None or payment.provider_trade_no is None:
            raise RuntimeError(f"declared order {order_no} has no succeeded payment")
        refund_id = await refunds.request_within(
            tx, payment, payment.provider_trade_no, payment.amount_fen, RefundReason.BUYER_CANCELLED, order_no
        )
        if order.buyer_id_hash is not None and order.paid_at is not None:
            await quota.release_annual_quota_within(
                tx, order.buyer_id_hash, customs_year(order.paid_at), quota.quota_of(order)
            )
        await tx.emit(
            "aftersale.refunded",
            f"order:{order_no}",
            {
                "order_id": order_id,
                "order_no": order_no,
                "aftersale_id": None,
                "kind": "cancellation",
                "refund_id": refund_id,
                "reason": "cancelled by the buyer before customs released the parcel",
            },
        )
    if refund_id is not None:
        await refunds.refund_now(ctx, refund_id)
    return refund_id or 0


async def _why_not(ctx: Context, order_no: str) -> Conflict:
    async with ctx.read() as conn:
        state = await aftersales_repo.declaration_state(conn, order_no)
    if state is None:
        return Conflict(f"order {order_no} is not paid", code="not_paid")
    if state in RELEASED:
        return Conflict(
            f"customs released order {order_no}; ask for a return once it is delivered",
            code="already_released",
        )
    return Conflict(
        f"order {order_no} is {state} at customs and cannot be cancelled here", code="cancel_needs_customs"
    )
