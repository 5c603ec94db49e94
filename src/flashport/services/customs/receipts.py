"""The worker's receipts job: read the platform's inbox at the single window and move declarations.

Every return node is stored once (unique on inbox position), whichever worker gets there first; only
the one that stored it applies it, with a conditional update, so a receipt changes a declaration at
most once. Receipts about an older version of the documents are kept for the record but not applied.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from flashport.adapters.customs.gateway import InboxItem
from flashport.adapters.db.schema import (
    customs_inbox_cursors,
    customs_messages,
    customs_receipts,
    declarations,
)
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
    assert ctx.customs is not None
    dxp_id = ctx.settings.customs_dxp_id
    async with ctx.read() as conn:
        after = await conn.scalar(
            sa.select(customs_inbox_cursors.c.last_seq).where(customs_inbox_cursors.c.dxp_id == dxp_id)
        )
    moved, after = 0, after or 0
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
            moved += await _store_and_apply(tx, ctx, dxp_id, item, part, receipt)
        await _advance(tx, dxp_id, item.seq)
    return moved


async def _store_and_apply(
    tx: Tx, ctx: Context, dxp_id: str, item: InboxItem, part: int, receipt: Receipt
) -> int:
    message = (
        await tx.conn.execute(
            sa.select(customs_messages.c.declaration_id, customs_messages.c.version).where(
                customs_messages.c.guid == receipt.guid
            )
        )
    ).first()
    declaration = None
    if message is not None:
        declaration = (
            await tx.conn.execute(
                sa.select(declarations).where(declarations.c.id == message.declaration_id).with_for_update()
            )
        ).one()
    verdict = _verdict(receipt)
    will_apply = (
        declaration is not None
        and message is not None
        and message.version == declaration.version
        and verdict is not None
        and applies(DeclarationState(declaration.state), verdict)
    )
    try:
        async with tx.conn.begin_nested():
            await tx.conn.execute(
                customs_receipts.insert().values(
                    declaration_id=declaration.id if declaration is not None else None,
                    dxp_id=dxp_id,
                    seq=item.seq,
                    part=part,
                    kind=receipt.kind.value,
                    message_guid=receipt.guid,
                    return_status=receipt.return_status,
                    return_info=receipt.return_info,
                    return_time=receipt.return_time,
                    applied=will_apply,
                    body=item.message.decode("utf-8", "replace"),
                    received_at=tx.now,
                )
            )
    except IntegrityError:
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


async def _move(tx: Tx, ctx: Context, declaration: Any, verdict: Verdict, receipt: Receipt) -> None:
    values: dict[str, Any] = {"state": verdict.state.value, "updated_at": tx.now}
    if verdict.state is DeclarationState.REJECTED:
        values |= {
            "reason_code": verdict.reason_code,
            "reason": verdict.reason,
            "refund_after": tx.now + (_fix_window(ctx) if fix_window_applies(verdict) else timedelta(0)),
        }
    if verdict.state is DeclarationState.RELEASED:
        values |= {"released_at": receipt.return_time, "reason_code": None, "reason": None}
    await tx.conn.execute(
        declarations.update()
        .where(declarations.c.id == declaration.id, declarations.c.state == declaration.state)
        .values(**values)
    )
    payload = {
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


async def _advance(tx: Tx, dxp_id: str, seq: int) -> None:
    dialect_insert = postgresql.insert if tx.conn.dialect.name == "postgresql" else sqlite.insert
    insert = dialect_insert(customs_inbox_cursors).values(dxp_id=dxp_id, last_seq=seq, updated_at=tx.now)
    await tx.conn.execute(
        insert.on_conflict_do_update(
            index_elements=[customs_inbox_cursors.c.dxp_id],
            set_={"last_seq": insert.excluded.last_seq, "updated_at": insert.excluded.updated_at},
            where=customs_inbox_cursors.c.last_seq < insert.excluded.last_seq,
        )
    )
