"""A buyer calls off a paid order before customs released it, one of two ways
(:func:`~flashport.domain.aftersales.cancel_path`):

* customs has not accepted the inventory list (pending, declared, received, or rejected): the payment
  is refunded in full at once, the annual quota given back, and the declaration goes to the
  withdrawal stage (:mod:`flashport.services.customs.withdrawal`), which deletes the documents sent
  (appType 3) and has the carrier cancel its waybill;
* customs accepted it and has not released it (matched, under review, reviewed, inspection): only a
  CEB623 naming customs' inventory number withdraws it. The cancellation is recorded as requested,
  the worker sends the CEB623 and customs' CEB624 decides (:mod:`.withdrawals`); the refund, the quota
  and the waybill's cancellation follow its acceptance, and a refusal leaves the order as it was.

A released order is refused with ``already_released`` (its way back is a return); a cancelled one with
``already_cancelled``; detained or returned goods with ``cancel_needs_customs`` (an operator settles
them with customs).

Outbox events: ``aftersale.refunded`` (kind ``cancellation``) when the money goes back, and for the
withdrawal ``aftersale.withdrawal_requested``, ``aftersale.withdrawal_declared`` and
``aftersale.withdrawal_refused``, each with order_id, order_no and cancellation_id.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from flashport.adapters.db import (
    aftersales_repo,
    cancellations_repo,
    declared_orders_repo,
    orders_repo,
    refunds_repo,
)
from flashport.adapters.db.cancellations_repo import Cancellation
from flashport.domain.aftersales import UNACCEPTED, CancelPath, cancel_path
from flashport.domain.declarations import DeclarationState
from flashport.domain.errors import Conflict, NotFound
from flashport.domain.limits import customs_year
from flashport.domain.payments import RefundReason
from flashport.services.context import Context, Tx
from flashport.services.orders import quota
from flashport.services.payments import refunds

CANCELLABLE = tuple(sorted(UNACCEPTED))  # customs has not accepted the list: refunded at once
RELEASED = (DeclarationState.RELEASED.value, DeclarationState.SHIPPED.value)
CANCELLED = (DeclarationState.REFUNDED.value,)
REFUNDED = "refunded"  # the view's state of a cancellation refunded at once, with no CEB623


@dataclass(frozen=True)
class CancellationView:
    """Where a buyer's cancellation stands: ``refunded`` (at once), or a withdrawal's ``requested``,
    ``declared``, ``withdrawn`` (refunded) or ``refused`` (``customs_info`` says why)."""

    order_no: str
    state: str
    refund_id: int | None
    requested_at: datetime | None = None
    declared_at: datetime | None = None
    answered_at: datetime | None = None
    customs_status: int | None = None
    customs_info: str | None = None


def view_of(c: Cancellation) -> CancellationView:
    return CancellationView(
        c.order_no,
        c.state.value,
        c.refund_id,
        c.requested_at,
        c.declared_at,
        c.answered_at,
        c.customs_status,
        c.customs_info,
    )


def payload(c: Cancellation, **more: object) -> dict[str, object]:
    return {"order_id": c.order_id, "order_no": c.order_no, "cancellation_id": c.id, **more}


async def cancel_before_release(ctx: Context, buyer_id: int, order_no: str) -> CancellationView:
    """Cancel the buyer's paid order. Refunded at once (the refund is sent now and, if the provider is
    down, by the refunds job later), or, customs having accepted the list, a withdrawal requested."""
    async with ctx.transaction() as tx:
        order_id = await orders_repo.id_for_buyer(tx.conn, buyer_id, order_no)
        if order_id is None:
            raise NotFound(f"order {order_no} not found", code="order_not_found")
        state = await cancellations_repo.lock_declaration_state(tx.conn, order_no)
        path = None if state is None else cancel_path(state)
        if path is None:
            raise _why_not(order_no, state)
        if path is CancelPath.WITHDRAW_FIRST:
            return await _request_withdrawal(tx, order_id, order_no, buyer_id)
        if await aftersales_repo.cancel_declaration(tx.conn, order_no, CANCELLABLE, tx.now) is None:
            raise _why_not(order_no, state)
        refund_id = await refund_within(tx, order_id, order_no)
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
    return CancellationView(order_no, REFUNDED, refund_id)


async def refund_within(tx: Tx, order_id: str, order_no: str) -> int | None:
    """Inside the transaction that cancelled the declaration: the whole payment's refund recorded and
    the order's dutiable value given back to its buyer's year."""
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
    return refund_id


async def _request_withdrawal(tx: Tx, order_id: str, order_no: str, buyer_id: int) -> CancellationView:
    cop_no = "C" + uuid.uuid4().hex[:19].upper()
    cancellation_id = await cancellations_repo.request(tx.conn, order_id, order_no, buyer_id, cop_no, tx.now)
    if cancellation_id is None:
        raise Conflict(
            f"the cancellation of order {order_no} is with customs already", code="cancellation_pending"
        )
    cancellation = await cancellations_repo.get(tx.conn, cancellation_id)
    assert cancellation is not None
    await tx.emit("aftersale.withdrawal_requested", f"order:{order_no}", payload(cancellation))
    return view_of(cancellation)


async def cancellation_for_buyer(ctx: Context, buyer_id: int, order_no: str) -> CancellationView:
    """The buyer's withdrawal of this order, as far as it got (404 when none was asked for)."""
    async with ctx.read() as conn:
        order_id = await orders_repo.id_for_buyer(conn, buyer_id, order_no)
        found = await cancellations_repo.of_order(conn, order_id) if order_id else None
    if found is None:
        raise NotFound(f"order {order_no} has no cancellation with customs", code="cancellation_not_found")
    return view_of(found)


async def cancellation_or_none(ctx: Context, buyer_id: int, order_no: str) -> CancellationView | None:
    try:
        return await cancellation_for_buyer(ctx, buyer_id, order_no)
    except NotFound:
        return None


async def refunded_as_cancelled(ctx: Context, order_id: str) -> bool:
    """The order's payment went back because its buyer cancelled it (at once, or once customs withdrew
    the declaration): what its page says instead of a refund for customs' reasons."""
    async with ctx.read() as conn:
        payment = await declared_orders_repo.payment(conn, order_id, any_paid=True)
        found = await refunds_repo.of_payment(conn, payment.id) if payment else []
    return any(row.reason == RefundReason.BUYER_CANCELLED.value for row in found)


def _why_not(order_no: str, state: str | None) -> Conflict:
    if state is None:
        return Conflict(f"order {order_no} is not paid", code="not_paid")
    if state in RELEASED:
        return Conflict(
            f"customs released order {order_no}; ask for a return once it is delivered",
            code="already_released",
        )
    if state in CANCELLED:
        return Conflict(f"order {order_no} is cancelled and refunded already", code="already_cancelled")
    return Conflict(
        f"order {order_no} is {state} at customs and cannot be cancelled here", code="cancel_needs_customs"
    )
