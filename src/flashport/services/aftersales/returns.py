"""Returns: the buyer asks (within the policy's days after delivery), an operator approves, the worker
declares the return application (CEB625) and the receipts job applies customs' answer (CEB626): taken,
the payment is refunded through the provider and the buyer's annual quota given back, in the
transaction that applies the receipt; refused, the return stops there with customs' reason.

Outbox events: ``aftersale.requested``, ``aftersale.approved``, ``aftersale.refunded`` (and
``aftersale.refused``), each with order_id, order_no and aftersale_id.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from flashport.adapters.customs.gateway import InboxItem
from flashport.adapters.db import (
    aftersales_repo,
    declared_orders_repo,
    milestones_repo,
    orders_repo,
)
from flashport.adapters.db.aftersales_repo import Aftersale
from flashport.ceb import AppType, ReceiptKind, new_guid
from flashport.ceb.withdrawals import ReturnedLine, Withdrawal, return_message
from flashport.domain.aftersales import AftersaleState, check_return_window, customs_answer, return_reason
from flashport.domain.errors import Conflict, NotFound
from flashport.domain.limits import customs_year
from flashport.domain.payments import RefundReason
from flashport.domain.tracking import Milestone
from flashport.services.aftersales import declaring
from flashport.services.context import Context, Tx
from flashport.services.customs import documents, messages
from flashport.services.customs.documents import NotDeclarable
from flashport.services.orders import quota
from flashport.services.payments import refunds
from flashport.services.tracking.milestones import ShipmentView

BATCH = 50
RETURN_RECEIPTS = frozenset({ReceiptKind.RETURN.value})


@dataclass(frozen=True)
class AftersaleView:
    id: int
    order_no: str
    state: str
    reason: str
    requested_at: datetime
    approved_at: datetime | None
    declared_at: datetime | None
    answered_at: datetime | None
    customs_status: int | None
    customs_info: str | None
    refund_id: int | None


def _view(a: Aftersale) -> AftersaleView:
    return AftersaleView(
        a.id,
        a.order_no,
        a.state.value,
        a.reason,
        a.requested_at,
        a.approved_at,
        a.declared_at,
        a.answered_at,
        a.customs_status,
        a.customs_info,
        a.refund_id,
    )


def _payload(a: Aftersale, **more: object) -> dict[str, object]:
    return {"order_id": a.order_id, "order_no": a.order_no, "aftersale_id": a.id, **more}


async def request_return(ctx: Context, buyer_id: int, order_no: str, reason: str) -> AftersaleView:
    """The buyer's return of a delivered parcel, within ``return_policy_days`` of delivery."""
    why = return_reason(reason)
    async with ctx.transaction() as tx:
        order_id = await orders_repo.id_for_buyer(tx.conn, buyer_id, order_no)
        if order_id is None:
            raise NotFound(f"order {order_no} not found", code="order_not_found")
        reached = {r.milestone: r.at for r in await milestones_repo.of_order(tx.conn, order_id)}
        check_return_window(reached.get(Milestone.DELIVERED), tx.now, ctx.settings.return_policy_days)
        cop_no = "R" + uuid.uuid4().hex[:19].upper()
        aftersale_id = await aftersales_repo.insert(
            tx.conn, order_id, order_no, buyer_id, why, cop_no, tx.now
        )
        if aftersale_id is None:
            raise Conflict(f"a return of order {order_no} was asked for already", code="return_exists")
        aftersale = await _get(tx, aftersale_id)
        await tx.emit("aftersale.requested", f"order:{order_no}", _payload(aftersale, reason=why))
    return _view(aftersale)


async def return_for_buyer(ctx: Context, buyer_id: int, order_no: str) -> AftersaleView:
    async with ctx.read() as conn:
        order_id = await orders_repo.id_for_buyer(conn, buyer_id, order_no)
        found = await aftersales_repo.of_order(conn, order_id) if order_id else None
    if found is None:
        raise NotFound(f"order {order_no} has no return", code="return_not_found")
    return _view(found)


async def return_or_none(ctx: Context, buyer_id: int, order_no: str) -> AftersaleView | None:
    try:
        return await return_for_buyer(ctx, buyer_id, order_no)
    except NotFound:
        return None


def return_deadline(ctx: Context, shipment: ShipmentView) -> datetime | None:
    """Until when the delivered shipment may be returned (None: not delivered)."""
    delivered = next((m.at for m in shipment.milestones if m.milestone == Milestone.DELIVERED.value), None)
    return None if delivered is None else delivered + timedelta(days=ctx.settings.return_policy_days)


async def list_returns(ctx: Context, state: AftersaleState | None, limit: int = 100) -> list[AftersaleView]:
    async with ctx.read() as conn:
        return [_view(a) for a in await aftersales_repo.listed(conn, state, limit)]


async def approve(ctx: Context, operator_id: int, aftersale_id: int) -> AftersaleView:
    """An operator accepts the return; the worker declares it to customs next."""
    async with ctx.transaction() as tx:
        before = await aftersales_repo.get(tx.conn, aftersale_id)
        if before is None:
            raise NotFound(f"return {aftersale_id} not found", code="return_not_found")
        if not await aftersales_repo.approve(tx.conn, aftersale_id, operator_id, tx.now):
            raise Conflict(
                f"return {aftersale_id} is {before.state}, not waiting for approval", code="not_requested"
            )
        aftersale = await _get(tx, aftersale_id)
        await tx.emit("aftersale.approved", f"order:{aftersale.order_no}", _payload(aftersale))
    return _view(aftersale)


async def declare_approved(ctx: Context, *, batch: int = BATCH) -> int:
    """Send the CEB625 of approved returns; returns how many were declared. A return whose sending
    failed waits its back-off and is tried again; the message is kept like every other declaration's."""
    return await declaring.declare_due(
        ctx,
        "return",
        lease=aftersales_repo.lease_approved,
        declare=_declare,
        get=aftersales_repo.get,
        postpone=aftersales_repo.postpone,
        batch=batch,
    )


async def _declare(ctx: Context, aftersale_id: int) -> int:
    loaded = await declaring.load(ctx, aftersale_id, aftersales_repo.get)
    if loaded is None:
        return 0
    aftersale, declaration, invt_no = loaded.row, loaded.declaration, loaded.invt_no
    if invt_no is None:
        raise NotDeclarable(f"order {aftersale.order_no} has no inventory number from customs yet")
    inventory = documents.inventory_declaration(ctx, loaded.facts, ctx.clock().date())
    returned = tuple(ReturnedLine(line.gnum, line.qty) for line in inventory.lines)
    withdrawal = Withdrawal(inventory, invt_no, aftersale.reason, aftersale.cop_no, returned)
    guid = new_guid()
    message = return_message(
        withdrawal, documents.platform_sender(ctx), signer=documents.signer(ctx), guid=guid
    )
    await messages.record(ctx, declaration, "CEB625", "platform", AppType.NEW, guid, message)
    await ctx.customs.send(message)
    async with ctx.transaction() as tx:
        return int(await aftersales_repo.mark_declared(tx.conn, aftersale_id, guid, tx.now))


def is_return_receipt(item: InboxItem) -> bool:
    return item.kind in RETURN_RECEIPTS


async def take_receipts(tx: Tx, dxp_id: str, items: list[InboxItem]) -> int:
    """Apply customs' answers to returns, in the page's transaction; returns how many moved one. A
    receipt read twice finds its return answered already and changes nothing."""
    moved = 0
    async for aftersale, receipt in declaring.answered_rows(
        tx, dxp_id, items, "return", aftersales_repo.declared_by_guid_or_cop_no
    ):
        state = customs_answer(receipt.return_status)
        if state is not None:
            moved += await _answered(tx, aftersale, state, receipt.return_status, receipt.return_info)
    return moved


async def _answered(tx: Tx, aftersale: Aftersale, state: AftersaleState, status: int, info: str) -> int:
    refund_id = await _refund_within(tx, aftersale) if state is AftersaleState.REFUNDED else None
    if not await aftersales_repo.answer(tx.conn, aftersale.id, state, status, info, refund_id, tx.now):
        return 0
    event = "aftersale.refunded" if state is AftersaleState.REFUNDED else "aftersale.refused"
    await tx.emit(event, f"order:{aftersale.order_no}", _payload(aftersale, refund_id=refund_id, reason=info))
    return 1


async def _refund_within(tx: Tx, aftersale: Aftersale) -> int | None:
    """The refund of the whole payment, recorded to be sent by the refunds job (it retries), and the
    order's dutiable value given back to its buyer's year."""
    order = await declared_orders_repo.order(tx.conn, aftersale.order_id)
    payment = await declared_orders_repo.payment(tx.conn, order.id, any_paid=True)
    if payment is None or payment.provider_trade_no is None:
        raise RuntimeError(f"returned order {order.order_no} has no payment")
    refund_id = await refunds.request_within(
        tx, payment, payment.provider_trade_no, payment.amount_fen, RefundReason.RETURNED, order.order_no
    )
    if order.buyer_id_hash is not None and order.paid_at is not None:
        await quota.release_annual_quota_within(
            tx, order.buyer_id_hash, customs_year(order.paid_at), quota.quota_of(order)
        )
    return refund_id


async def _get(tx: Tx, aftersale_id: int) -> Aftersale:
    found = await aftersales_repo.get(tx.conn, aftersale_id)
    if found is None:
        raise LookupError(f"return {aftersale_id} does not exist")
    return found
