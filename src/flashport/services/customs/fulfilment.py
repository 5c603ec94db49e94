"""What follows customs' verdict: a released parcel ships (and only a released one), and a rejected
declaration that nobody fixed within the fix window is refunded, its annual quota given back."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from typing import TypeVar

from flashport.adapters.db import declarations_repo, declared_orders_repo, stages_repo
from flashport.adapters.logistics.interface import LogisticsRefused, LogisticsUnavailable
from flashport.domain.declarations import DeclarationState
from flashport.domain.errors import Conflict
from flashport.domain.limits import customs_year
from flashport.domain.payments import RefundReason
from flashport.domain.tracking import Milestone
from flashport.services.context import Context, Tx
from flashport.services.orders import quota
from flashport.services.payments import refunds
from flashport.services.tracking import milestones

log = logging.getLogger(__name__)
T = TypeVar("T")

SHIP_BATCH = 500
REFUND_BATCH = 50
# A leased parcel is someone's for this long; the carrier's answer takes far less.
LEASE = timedelta(minutes=2)
# A parcel the carrier could not take is tried again after this.
RETRY_AFTER = timedelta(seconds=5)
# Parcels handed to the carrier at once by one worker (its dispatch is one short HTTP call each).
SHIPPING_CONCURRENCY = 32


REFUND_CONCURRENCY = 8
# The carrier status on order.shipped when the carrier learns of the parcel from its partner feed.
HANDED_OVER = "handed_over"


class PartnerFailing(Exception):
    """A stage's partner took none of a batch: the worker's loop for that stage backs off."""


async def ship_released(ctx: Context, *, batch: int = SHIP_BATCH) -> int:
    """Hand a batch of released parcels to the carrier; returns how many shipped.

    The batch is leased in one short transaction (``FOR UPDATE SKIP LOCKED``: another worker takes
    other parcels), handed to the carrier a bounded number at a time, and the dispatched ones are
    marked shipped in one statement with their outbox records. With ``logistics_handover`` "feed" no
    call is made: the parcels are marked handed over, and the carrier takes them over from the
    ``order.shipped`` events of its partner feed, a page at a time. Parcels the carrier refused or could
    not take wait :data:`RETRY_AFTER` (the stage backs off from a failing carrier, nothing else does);
    the carrier's dispatch is idempotent, so a parcel dispatched by a worker that died before marking
    it is dispatched again harmlessly when its lease ends."""
    async with ctx.transaction() as tx:
        parcels = await stages_repo.lease_released(tx.conn, tx.now, tx.now + LEASE, batch)
        # The warehouse takes the released parcels to pack: the buyer sees "picked".
        await milestones.reach_many_within(tx, [p.order_no for p in parcels], Milestone.PICKED)
    if not parcels:
        return 0
    statuses: dict[int, str] = {}
    failed: list[int] = []

    async def dispatch(parcel: stages_repo.Parcel) -> int:
        if parcel.logistics_no is None:  # a released declaration always has its waybill
            raise RuntimeError(f"released order {parcel.order_no} has no waybill")
        if ctx.settings.logistics_handover == "feed":  # the carrier takes it from its feed's order.shipped
            statuses[parcel.id] = HANDED_OVER
            return 0
        try:
            statuses[parcel.id] = (await ctx.logistics.dispatch(parcel.logistics_no)).status
        except (LogisticsUnavailable, LogisticsRefused) as exc:
            failed.append(parcel.id)
            log.warning("order %s released but not shipped yet: %s", parcel.order_no, exc)
        return 0

    await _each(parcels, dispatch, SHIPPING_CONCURRENCY)
    async with ctx.transaction() as tx:
        shipped = await stages_repo.mark_shipped(tx.conn, sorted(statuses), tx.now)
        await milestones.reach_many_within(tx, [s.order_no for s in shipped], Milestone.HANDED_OVER)
        await tx.emit_many(
            [
                (
                    "order.shipped",
                    f"order:{s.order_no}",
                    {
                        "order_no": s.order_no,
                        "logistics_no": s.logistics_no,
                        "carrier_status": statuses[s.id],
                    },
                )
                for s in sorted(shipped, key=lambda s: s.id)
            ]
        )
        await stages_repo.retry_later(tx.conn, failed, tx.now + RETRY_AFTER)
    if failed and not statuses:
        raise PartnerFailing(f"the carrier took none of {len(parcels)} parcels")
    return len(shipped)


async def _each(items: Sequence[T], job: Callable[[T], Awaitable[object]], limit: int) -> None:
    """Run ``job`` on every item, at most ``limit`` at once. The jobs only talk to a partner (no
    database writes), so this holds on SQLite too. An unexpected failure is logged; the item is
    retried when its lease ends."""
    gate = asyncio.Semaphore(limit)

    async def guarded(item: T) -> None:
        async with gate:
            try:
                await job(item)
            except Exception:
                log.exception("stage job failed for %s", item)

    await asyncio.gather(*(guarded(item) for item in items))


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
        await milestones.reach_many_within(tx, [order_no], Milestone.PICKED)
        await milestones.reach_many_within(tx, [order_no], Milestone.HANDED_OVER)
        await tx.emit(
            "order.shipped",
            f"order:{order_no}",
            {"order_no": order_no, "logistics_no": logistics_no, "carrier_status": waybill.status},
        )
    return 1


async def refund_unfixed(ctx: Context, *, batch: int = REFUND_BATCH) -> int:
    """Refund rejected declarations whose fix window has passed; returns how many.

    The batch is claimed and refunded in one transaction (``FOR UPDATE SKIP LOCKED``: another worker
    takes others): each refund recorded, the quota given back and the event written with it. The
    refunds are then sent to the payment provider a bounded number at a time; one that fails stays
    pending for the refunds job to retry."""
    refund_ids: list[int] = []
    async with ctx.transaction() as tx:
        for declaration_id in await stages_repo.claim_rejected_past_fix_window(tx.conn, tx.now, batch):
            refund_id = await _refund_within(tx, declaration_id)
            if refund_id is not None:
                refund_ids.append(refund_id)

    async def send(refund_id: int) -> int:
        await refunds.refund_now(ctx, refund_id)
        return 1

    await _each(refund_ids, send, REFUND_CONCURRENCY)
    return len(refund_ids)


async def _refund_within(tx: Tx, declaration_id: int) -> int | None:
    """Inside ``tx``: rejected -> refunded, with the refund to make, the quota back and the event."""
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
