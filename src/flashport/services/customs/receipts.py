"""The worker's receipts job: read the platform's inbox at the single window and move declarations.

Every return node is stored once (unique on inbox position), whichever worker gets there first; only
the one that stored it applies it, with a conditional update, so a receipt changes a declaration at
most once. Receipts about an older version of the documents are kept for the record but not applied.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from flashport.adapters.customs.gateway import InboxItem
from flashport.adapters.db import customs_messages_repo, customs_receipts_repo, declarations_repo
from flashport.adapters.db.customs_receipts_repo import InboxPosition
from flashport.adapters.db.declarations_repo import Declaration
from flashport.ceb import Receipt, ReceiptKind, ReceiptUnreadable, parse_receipts
from flashport.domain.declarations import (
    DeclarationState,
    Verdict,
    applies,
    fix_window_applies,
    inventory_verdict,
    other_receipt_verdict,
)
from flashport.services.context import Context, Tx

log = logging.getLogger(__name__)

MAX_PAGES_PER_POLL = 10

EVENT_OF = {
    DeclarationState.RECEIVED: "declaration.received",
    DeclarationState.MATCHED: "declaration.matched",
    DeclarationState.RELEASED: "declaration.released",
    DeclarationState.REJECTED: "declaration.rejected",
}


async def poll_receipts(ctx: Context, *, limit: int = 200) -> int:
    """Fetch and apply what customs sent since the last poll; returns how many receipts moved a
    declaration."""
    dxp_id = ctx.settings.customs_dxp_id
    async with ctx.read() as conn:
        after = await customs_receipts_repo.inbox_read_up_to(conn, dxp_id)
    moved = 0
    for _ in range(MAX_PAGES_PER_POLL):  # drain a backlog, but let the worker's other jobs run too
        items = await ctx.customs.fetch(dxp_id, after, limit)
        for item in items:
            moved += await _take(ctx, dxp_id, item)
        if len(items) < limit:
            break
        after = items[-1].seq
    return moved


async def _take(ctx: Context, dxp_id: str, item: InboxItem) -> int:
    try:
        receipts = parse_receipts(item.message)
    except ReceiptUnreadable as exc:
        log.error("unreadable receipt %s in inbox %s: %s", item.seq, dxp_id, exc)
        receipts = []
    moved = 0
    async with ctx.transaction() as tx:
        for part, receipt in enumerate(receipts):
            moved += await _store_and_apply(tx, ctx, InboxPosition(dxp_id, item.seq, part), item, receipt)
        await customs_receipts_repo.advance_inbox(tx.conn, dxp_id, item.seq, tx.now)
    return moved


async def _store_and_apply(
    tx: Tx, ctx: Context, position: InboxPosition, item: InboxItem, receipt: Receipt
) -> int:
    origin = await customs_messages_repo.origin_of(tx.conn, receipt.guid)
    declaration = None
    if origin is not None:
        declaration = await declarations_repo.get(tx.conn, origin.declaration_id, for_update=True)
    verdict = _verdict(receipt)
    will_apply = (
        declaration is not None
        and origin is not None
        and origin.version == declaration.version
        and verdict is not None
        and applies(declaration.state, verdict)
    )
    stored = await customs_receipts_repo.insert_once(
        tx.conn,
        position,
        declaration_id=declaration.id if declaration is not None else None,
        kind=receipt.kind.value,
        message_guid=receipt.guid,
        return_status=receipt.return_status,
        return_info=receipt.return_info,
        return_time=receipt.return_time,
        applied=will_apply,
        body=item.message.decode("utf-8", "replace"),
        now=tx.now,
    )
    if not stored:
        return 0  # another worker stored (and applied) it
    if not will_apply:
        return 0
    assert declaration is not None and verdict is not None
    await _move(tx, ctx, declaration, verdict, receipt)
    return 1


def _verdict(receipt: Receipt) -> Verdict | None:
    if receipt.kind is ReceiptKind.INVENTORY:
        return inventory_verdict(receipt.return_status, receipt.return_info)
    return other_receipt_verdict(receipt.return_status, receipt.return_info)


async def _move(tx: Tx, ctx: Context, declaration: Declaration, verdict: Verdict, receipt: Receipt) -> None:
    if verdict.state is DeclarationState.REJECTED:
        window = _fix_window(ctx) if fix_window_applies(verdict) else timedelta(0)
        await declarations_repo.mark_rejected(
            tx.conn,
            declaration,
            reason_code=verdict.reason_code,
            reason=verdict.reason,
            refund_after=tx.now + window,
            now=tx.now,
        )
    elif verdict.state is DeclarationState.RELEASED:
        await declarations_repo.mark_released(tx.conn, declaration, receipt.return_time, tx.now)
    else:
        await declarations_repo.move_on(tx.conn, declaration, verdict.state, tx.now)
    payload: dict[str, object] = {
        "order_no": declaration.order_no,
        "version": declaration.version,
        "return_status": receipt.return_status,
        "return_info": receipt.return_info,
    }
    if verdict.reason_code:
        payload["reason_code"] = verdict.reason_code
    await tx.emit(EVENT_OF[verdict.state], f"order:{declaration.order_no}", payload)


def _fix_window(ctx: Context) -> timedelta:
    return timedelta(seconds=ctx.settings.customs_fix_window_seconds)
