"""The worker's receipts job: read the platform's inbox at the single window and move declarations.

One worker at a time reads an inbox: it takes a lease on the inbox's read position (others skip the
job until the lease is given back or runs out), so two workers never fetch and fight over the same
pages. A page is applied in one bounded transaction: its return nodes are stored in one statement,
unique on inbox position (a node stored already, e.g. by a reader whose lease ran out, is skipped and
not applied again), and each stored node moves its declaration with a conditional update, only
forward (:func:`flashport.domain.declarations.applies`). Receipts about an older version of the
documents are kept for the record but not applied. A verdict no automatic step can cure (detained,
returned, a processing error) also puts the declaration on the operator's worklist, logged at error
level.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import socket
from datetime import timedelta
from typing import Any

from flashport.adapters.customs.gateway import InboxItem
from flashport.adapters.db import customs_receipts_repo, declarations_repo, stages_repo, tax_bills_repo
from flashport.adapters.db.declarations_repo import Declaration
from flashport.adapters.db.stages_repo import Origin
from flashport.ceb import Receipt, ReceiptKind, ReceiptUnreadable, parse_receipts
from flashport.domain.declarations import (
    DeclarationState,
    Verdict,
    applies,
    fix_window_applies,
    inventory_verdict,
    other_receipt_verdict,
)
from flashport.domain.tracking import Milestone
from flashport.services.aftersales import returns, withdrawals
from flashport.services.context import Context, Tx
from flashport.services.customs import tax_bills
from flashport.services.tracking import milestones

log = logging.getLogger(__name__)

MAX_PAGES_PER_POLL = 10
PAGE = 200  # receipts fetched per request
# How long a reader may hold an inbox: far longer than a poll, short enough that a dead worker's
# inbox is read again soon.
LEASE = timedelta(seconds=30)

EVENT_OF = {
    DeclarationState.RECEIVED: "declaration.received",
    DeclarationState.MATCHED: "declaration.matched",
    DeclarationState.UNDER_REVIEW: "declaration.under_review",
    DeclarationState.REVIEWED: "declaration.reviewed",
    DeclarationState.INSPECTION: "declaration.inspection",
    DeclarationState.DETAINED: "declaration.detained",
    DeclarationState.RELEASED: "declaration.released",
    DeclarationState.REJECTED: "declaration.rejected",
    DeclarationState.RETURNED: "declaration.returned",
}


@dataclasses.dataclass(frozen=True)
class _Node:
    """One return node of a page, where it sits and what it is."""

    seq: int
    part: int
    receipt: Receipt
    body: str


def reader_id(ctx: Context) -> str:
    """Who holds an inbox lease: this process and this context (tests run two workers in one)."""
    return f"{socket.gethostname()}:{os.getpid()}:{id(ctx):x}"[:64]


async def poll_receipts(ctx: Context, *, limit: int = PAGE) -> int:
    """Fetch and apply what customs sent since the last poll; returns how many receipts moved a
    declaration. Does nothing while another worker holds the inbox."""
    dxp_id, reader = ctx.settings.customs_dxp_id, reader_id(ctx)
    moved = 0
    async with ctx.transaction() as tx:
        after = await stages_repo.take_inbox_lease(tx.conn, dxp_id, reader, tx.now, tx.now + LEASE)
    if after is None:
        return 0  # another worker is reading this inbox
    try:
        for _ in range(MAX_PAGES_PER_POLL):  # drain a backlog, but give the lease back now and then
            items = await ctx.customs.fetch(dxp_id, after, limit)
            if items:
                moved += await apply_page(ctx, dxp_id, items, reader=reader)
                after = items[-1].seq
            if len(items) < limit:
                break
        moved += await apply_deferred(ctx)
    finally:
        async with ctx.transaction() as tx:
            await stages_repo.give_back_inbox_lease(tx.conn, dxp_id, reader)
    return moved


def _nodes(dxp_id: str, items: list[InboxItem]) -> list[_Node]:
    nodes = []
    for item in items:
        if tax_bills.is_tax_message(item):
            continue  # the tax bill family is no receipt: see tax_bills.take
        if returns.is_return_receipt(item):
            continue  # about a return, not a declaration: see returns.take_receipts
        if withdrawals.is_withdrawal_receipt(item):
            continue  # about a cancellation's CEB623: see withdrawals.take_receipts
        try:
            receipts = parse_receipts(item.message)
        except ReceiptUnreadable as exc:
            log.error("unreadable receipt %s in inbox %s: %s", item.seq, dxp_id, exc)
            continue
        body = item.message.decode("utf-8", "replace")
        nodes += [_Node(item.seq, part, receipt, body) for part, receipt in enumerate(receipts)]
    return nodes


def _origin(receipt: Receipt, found: dict[str, list[Origin]]) -> Origin | None:
    """The declaration a receipt is about: its message's, or (a message carrying several orders) the
    one its orderNo (order receipts) or copNo (inventory receipts) names."""
    candidates = found.get(receipt.guid, [])
    if len(candidates) == 1:
        return candidates[0]
    keys = receipt.business_keys
    return next(
        (o for o in candidates if o.order_no == keys.get("orderNo") or o.cop_no == keys.get("copNo")),
        None,
    )


async def apply_page(ctx: Context, dxp_id: str, items: list[InboxItem], *, reader: str | None = None) -> int:
    """Store and apply one page of the inbox in one transaction and move the read position past it;
    returns how many receipts moved a declaration. Safe to run twice on the same page: the second
    run stores and applies nothing."""
    nodes = _nodes(dxp_id, items)
    async with ctx.transaction() as tx:
        found: dict[str, list[Origin]] = {}
        for known in await stages_repo.origins_of(tx.conn, [n.receipt.guid for n in nodes]):
            found.setdefault(known.guid, []).append(known)
        origins = [_origin(n.receipt, found) for n in nodes]
        # Locked before storing: a concurrent reader of the same page waits here, then sees its moves.
        ids = sorted({o.declaration_id for o in origins if o is not None})
        current = {d.id: d for d in await declarations_repo.get_many(tx.conn, ids, for_update=True)}
        plan: list[tuple[_Node, Declaration, Verdict] | None] = []
        rows: list[dict[str, Any]] = []
        for node, origin in zip(nodes, origins, strict=True):
            declaration = None if origin is None else current.get(origin.declaration_id)
            verdict = _verdict(node.receipt)
            current_version = (
                declaration is not None and origin is not None and origin.version == declaration.version
            )
            will_apply = (
                current_version
                and declaration is not None
                and verdict is not None
                and applies(declaration.state, verdict)
            )
            # Customs answered before the worker marked the declaration declared: keep it for then.
            deferred = (
                current_version
                and declaration is not None
                and verdict is not None
                and declaration.state is DeclarationState.PENDING
            )
            if will_apply:
                assert declaration is not None and verdict is not None
                plan.append((node, declaration, verdict))
                current[declaration.id] = dataclasses.replace(declaration, state=verdict.state)
            else:
                plan.append(None)
            rows.append(_row(dxp_id, node, declaration, will_apply, tx) | {"deferred": deferred})
        stored = await stages_repo.insert_receipts(tx.conn, rows)
        numbered = [
            (origin.declaration_id, invt_no)
            for node, origin in zip(nodes, origins, strict=True)
            if origin is not None
            and node.receipt.kind is ReceiptKind.INVENTORY
            and (invt_no := node.receipt.business_keys.get("invtNo"))
        ]
        await tax_bills_repo.record_inventory_numbers(tx.conn, numbered)
        await tax_bills.take(tx, dxp_id, [item for item in items if tax_bills.is_tax_message(item)])
        await returns.take_receipts(tx, dxp_id, [item for item in items if returns.is_return_receipt(item)])
        withdrawn = [item for item in items if withdrawals.is_withdrawal_receipt(item)]
        await withdrawals.take_receipts(tx, dxp_id, withdrawn)
        # Nothing to do, or stored (and applied) by another reader already: left out.
        steps = [
            (node.receipt, declaration, verdict)
            for node, declaration, verdict in filter(None, plan)
            if (node.seq, node.part) in stored
        ]
        moved = await _move_all(tx, ctx, steps)
        if items:
            await customs_receipts_repo.advance_inbox(tx.conn, dxp_id, items[-1].seq, tx.now)
        if reader is not None:  # still reading: keep the lease for another while
            await stages_repo.take_inbox_lease(tx.conn, dxp_id, reader, tx.now, tx.now + LEASE)
    return moved


def _row(dxp_id: str, node: _Node, declaration: Declaration | None, applied: bool, tx: Tx) -> dict[str, Any]:
    receipt = node.receipt
    return {
        "declaration_id": declaration.id if declaration is not None else None,
        "dxp_id": dxp_id,
        "seq": node.seq,
        "part": node.part,
        "kind": receipt.kind.value,
        "message_guid": receipt.guid,
        "return_status": receipt.return_status,
        "return_info": receipt.return_info,
        "return_time": receipt.return_time,
        "applied": applied,
        "body": node.body,
        "received_at": tx.now,
    }


def _verdict(receipt: Receipt) -> Verdict | None:
    if receipt.kind is ReceiptKind.INVENTORY:
        return inventory_verdict(receipt.return_status, receipt.return_info)
    return other_receipt_verdict(receipt.return_status, receipt.return_info)


async def apply_deferred(ctx: Context, *, limit: int = 500) -> int:
    """Apply receipts that arrived while their declaration was still being sent, now that it is not;
    returns how many moved a declaration. Each is settled (applied or not) once."""
    async with ctx.transaction() as tx:
        ready = await stages_repo.deferred_receipts_ready(tx.conn, limit)
        ids = sorted({r.declaration_id for r in ready})
        current = {d.id: d for d in await declarations_repo.get_many(tx.conn, ids, for_update=True)}
        applied: list[int] = []
        skipped: list[int] = []
        steps: list[tuple[Receipt, Declaration, Verdict]] = []
        for stored in ready:
            declaration = current[stored.declaration_id]
            receipt = Receipt(
                ReceiptKind(stored.kind), "", {}, stored.return_status, stored.return_time, stored.return_info
            )
            verdict = _verdict(receipt)
            if (
                verdict is None
                or stored.version != declaration.version  # re-declared meanwhile: stale
                or not applies(declaration.state, verdict)
            ):
                skipped.append(stored.id)
                continue
            steps.append((receipt, declaration, verdict))
            current[declaration.id] = dataclasses.replace(declaration, state=verdict.state)
            applied.append(stored.id)
        await _move_all(tx, ctx, steps)
        await stages_repo.settle_deferred(tx.conn, applied, skipped)
    return len(applied)


def _plain(verdict: Verdict) -> bool:
    """A move that only changes the state (received, matched, released...): no reason to keep, no
    rejection's fix window, nobody to call."""
    if verdict.needs_attention or verdict.state is DeclarationState.REJECTED:
        return False
    return verdict.state is DeclarationState.RELEASED or verdict.reason_code is None


async def _move_all(tx: Tx, ctx: Context, steps: list[tuple[Receipt, Declaration, Verdict]]) -> int:
    """Every step, in order; returns how many. Each step's declaration is the one its verdict moves
    from (the one before it moved by the step before, for a declaration moved twice). A declaration
    whose steps are all plain moves once, from its first state seen to its last, in one statement for
    all of them (its outbox records still one per step, in order, and the release milestone recorded);
    any other goes step by step (:func:`_move`)."""
    by_declaration: dict[int, list[tuple[Receipt, Declaration, Verdict]]] = {}
    for step in steps:
        by_declaration.setdefault(step[1].id, []).append(step)
    moves: list[declarations_repo.Move] = []
    records: list[tuple[str, str, dict[str, Any]]] = []
    released: list[str] = []
    for own in by_declaration.values():
        if not all(_plain(verdict) for _, _, verdict in own):
            for receipt, declaration, verdict in own:
                await _move(tx, ctx, receipt, declaration, verdict)
            continue
        first = own[0][1]
        release = next((r for r, _, v in own if v.state is DeclarationState.RELEASED), None)
        moves.append(
            declarations_repo.Move(
                first.id, first.state, own[-1][2].state, None if release is None else release.return_time
            )
        )
        records += [_record(receipt, declaration, verdict) for receipt, declaration, verdict in own]
        if release is not None:
            released.append(first.order_no)
    await declarations_repo.move_many(tx.conn, moves, tx.now)
    await tx.emit_many(records)
    await milestones.reach_many_within(tx, released, Milestone.RELEASED)
    return len(steps)


def _record(receipt: Receipt, declaration: Declaration, verdict: Verdict) -> tuple[str, str, dict[str, Any]]:
    """The outbox record of one move: (type, subject, payload)."""
    payload: dict[str, object] = {
        "order_no": declaration.order_no,
        "version": declaration.version,
        "return_status": receipt.return_status,
        "return_info": receipt.return_info,
    }
    if verdict.reason_code:
        payload["reason_code"] = verdict.reason_code
    return EVENT_OF[verdict.state], f"order:{declaration.order_no}", payload


async def _move(tx: Tx, ctx: Context, receipt: Receipt, declaration: Declaration, verdict: Verdict) -> None:
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
        released = Milestone.RELEASED
        await milestones.reach_within(tx, declaration.order_id, declaration.order_no, released, tx.now)
    elif verdict.reason_code is not None:  # detained, returned: the reason is kept with the state
        await declarations_repo.move_on(tx.conn, declaration, verdict.state, tx.now)
        await declarations_repo.set_reason(tx.conn, declaration.id, verdict.reason_code, verdict.reason)
    else:
        await declarations_repo.move_on(tx.conn, declaration, verdict.state, tx.now)
    if verdict.needs_attention:
        why = f"{verdict.reason_code}: {verdict.reason or receipt.return_info}"
        if await stages_repo.flag_for_attention(tx.conn, declaration.id, why, tx.now):
            log.error(
                "declaration %s (order %s) needs an operator: customs status %s, %s",
                declaration.id,
                declaration.order_no,
                receipt.return_status,
                why,
            )
    await tx.emit(*_record(receipt, declaration, verdict))


def _fix_window(ctx: Context) -> timedelta:
    return timedelta(seconds=ctx.settings.customs_fix_window_seconds)
