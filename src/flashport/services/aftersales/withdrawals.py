"""Withdrawing an accepted inventory list for a buyer's cancellation (issue 18, point 3):

    requested ─CEB623 sent─▶ declared ─CEB624 taken─▶ withdrawn (refunded, quota back, waybill cancelled)
        │                             ╰─CEB624 refused─▶ refused (the order goes on; the reason is kept)
        ╰─ released before it was sent ─▶ refused

The worker declares requested cancellations (:func:`declare_requested`): a signed CEB623 naming
customs' inventory number, kept like every other message and sent through the customs gateway. The
receipts job hands the CEB624s to :func:`take_receipts`, in its page's transaction.

A release racing the withdrawal is decided once, by customs: it takes either the release or the
withdrawal first and refuses the other. On the platform the refund follows only customs' acceptance of
the withdrawal, and only by moving the declaration out of an accepted, unreleased state (a conditional
update, under the same row lock the release receipt takes), so a released order is never refunded here
and a withdrawn one never ships. Once withdrawn, the declaration is ``refunded`` and the withdrawal
stage (:mod:`flashport.services.customs.withdrawal`) has the carrier cancel its waybill and deletes
the order (the inventory list is no longer at customs).
"""

from __future__ import annotations

import logging

from flashport.adapters.customs.gateway import InboxItem
from flashport.adapters.db import (
    aftersales_repo,
    cancellations_repo,
    declarations_repo,
    stages_repo,
)
from flashport.adapters.db.cancellations_repo import Cancellation
from flashport.ceb import AppType, ReceiptKind, new_guid
from flashport.ceb.withdrawals import Withdrawal, cancellation_message
from flashport.domain.aftersales import WITHDRAWABLE, CancellationState, withdrawal_answer
from flashport.services.aftersales import declaring
from flashport.services.aftersales.cancellation import payload, refund_within
from flashport.services.context import Context, Tx
from flashport.services.customs import documents, messages
from flashport.services.customs.documents import NotDeclarable

log = logging.getLogger(__name__)

BATCH = 50
REASON = "买家在放行前取消订单 (the buyer cancelled the order before release)"
RELEASED_FIRST = "customs released the parcel before the withdrawal could be declared"


async def declare_requested(ctx: Context, *, batch: int = BATCH) -> int:
    """Send the CEB623 of requested cancellations; returns how many were declared (or found released
    first). One whose sending failed waits its back-off and is tried again."""
    return await declaring.declare_due(
        ctx,
        "cancellation",
        lease=cancellations_repo.lease_requested,
        declare=_declare,
        get=cancellations_repo.get,
        postpone=cancellations_repo.postpone,
        batch=batch,
    )


async def _declare(ctx: Context, cancellation_id: int) -> int:
    loaded = await declaring.load(ctx, cancellation_id, cancellations_repo.get)
    if loaded is None:
        return 0
    cancellation, declaration, invt_no = loaded.row, loaded.declaration, loaded.invt_no
    if declaration.state.value not in WITHDRAWABLE:
        async with ctx.transaction() as tx:  # released (or moved on) before the CEB623 went: no use
            return await _refused(tx, cancellation, CancellationState.REQUESTED, None, RELEASED_FIRST)
    if invt_no is None:
        raise NotDeclarable(f"order {cancellation.order_no} has no inventory number from customs yet")
    inventory = documents.inventory_declaration(ctx, loaded.facts, ctx.clock().date())
    guid = new_guid()
    message = cancellation_message(
        Withdrawal(inventory, invt_no, REASON, cancellation.cop_no),
        documents.platform_sender(ctx),
        signer=documents.signer(ctx),
        guid=guid,
    )
    messages.check_against_schema("CEB623", message)
    await messages.record(ctx, declaration, "CEB623", "platform", AppType.NEW, guid, message)
    await ctx.customs.send(message)
    async with ctx.transaction() as tx:
        if not await cancellations_repo.mark_declared(tx.conn, cancellation_id, invt_no, guid, tx.now):
            return 0
        await tx.emit(
            "aftersale.withdrawal_declared",
            f"order:{cancellation.order_no}",
            payload(cancellation, invt_no=invt_no, message_guid=guid),
        )
    return 1


def is_withdrawal_receipt(item: InboxItem) -> bool:
    return item.kind == ReceiptKind.CANCELLATION.value


async def take_receipts(tx: Tx, dxp_id: str, items: list[InboxItem]) -> int:
    """Apply customs' answers to withdrawals, in the page's transaction; returns how many moved one. A
    receipt read twice finds its cancellation answered already and changes nothing."""
    moved = 0
    async for cancellation, receipt in declaring.answered_rows(
        tx, dxp_id, items, "withdrawal", cancellations_repo.declared_by_guid_or_cop_no
    ):
        answer = withdrawal_answer(receipt.return_status)
        if answer is CancellationState.WITHDRAWN:
            moved += await _withdrawn(tx, cancellation, receipt.return_status, receipt.return_info)
        elif answer is not None:
            moved += await _refused(
                tx, cancellation, CancellationState.DECLARED, receipt.return_status, receipt.return_info
            )
    return moved


async def _withdrawn(tx: Tx, cancellation: Cancellation, status: int, info: str) -> int:
    """Customs withdrew the list: the declaration leaves its accepted state for ``refunded`` (its
    waybill cancelled and its order deleted by the withdrawal stage) and the whole payment goes back."""
    left = await aftersales_repo.cancel_declaration(
        tx.conn, cancellation.order_no, tuple(WITHDRAWABLE), tx.now
    )
    if left is None:
        # Customs says withdrawn, yet this platform recorded a release: never refund a parcel that may
        # ship. A person settles it with customs.
        await _answer(tx, cancellation, CancellationState.WITHDRAWN, status, info, None)
        declaration = await declarations_repo.find_by_order_no(tx.conn, cancellation.order_no)
        why = f"withdrawal_after_release: customs withdrew the list ({info}) after its release was recorded"
        if declaration is not None and await stages_repo.flag_for_attention(
            tx.conn, declaration.id, why, tx.now
        ):
            log.error("order %s: %s", cancellation.order_no, why)
        return 1
    refund_id = await refund_within(tx, cancellation.order_id, cancellation.order_no)
    if not await _answer(tx, cancellation, CancellationState.WITHDRAWN, status, info, refund_id):
        return 0
    await tx.emit(
        "aftersale.refunded",
        f"order:{cancellation.order_no}",
        payload(
            cancellation,
            aftersale_id=None,
            kind="cancellation",
            refund_id=refund_id,
            return_status=status,
            reason="cancelled by the buyer; customs withdrew the inventory list (CEB623)",
        ),
    )
    return 1


async def _refused(
    tx: Tx, cancellation: Cancellation, was: CancellationState, status: int | None, info: str
) -> int:
    """The withdrawal stops here with the reason; the order and its declaration go on as they were."""
    if not await cancellations_repo.answer(
        tx.conn,
        cancellation.id,
        was=was,
        state=CancellationState.REFUSED,
        status=status,
        info=info,
        refund_id=None,
        now=tx.now,
    ):
        return 0
    await tx.emit(
        "aftersale.withdrawal_refused",
        f"order:{cancellation.order_no}",
        payload(cancellation, return_status=status, reason=info),
    )
    return 1


async def _answer(
    tx: Tx, c: Cancellation, state: CancellationState, status: int, info: str, refund_id: int | None
) -> bool:
    return await cancellations_repo.answer(
        tx.conn,
        c.id,
        was=CancellationState.DECLARED,
        state=state,
        status=status,
        info=info,
        refund_id=refund_id,
        now=tx.now,
    )
