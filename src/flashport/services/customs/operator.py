"""What a compliance officer sees and does: declarations listed and filtered by state, one opened with
its messages and receipts, a message downloaded exactly as sent, and a rejected one re-declared after
a fix (its documents sent again as changes, under the next version)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from flashport.adapters.db.schema import customs_messages, customs_receipts, declarations, orders
from flashport.domain.declarations import REDECLARABLE, DeclarationState
from flashport.domain.errors import Conflict, NotFound
from flashport.domain.identity import check_consignee
from flashport.services.context import Context
from flashport.services.customs.messages import open_body

MAX_PAGE = 200


def _summary(row: Any) -> dict[str, Any]:
    return {
        "order_no": row.order_no,
        "trade_mode": row.trade_mode,
        "state": row.state,
        "version": row.version,
        "cop_no": row.cop_no,
        "logistics_no": row.logistics_no,
        "reason_code": row.reason_code,
        "reason": row.reason,
        "attempts": row.attempts,
        "last_error": row.last_error,
        "refund_after": row.refund_after,
        "released_at": row.released_at,
        "shipped_at": row.shipped_at,
        "created_at": row.created_at,
        "updated_at": row.updated_at,
    }


async def list_declarations(
    ctx: Context, *, state: DeclarationState | None, after_id: int, limit: int
) -> dict[str, Any]:
    """Oldest first, keyset-paginated by id (``next_after``), optionally one state only, with how many
    declarations are in each state (what needs attention: rejected, stuck in pending...)."""
    query = sa.select(declarations).where(declarations.c.id > after_id)
    if state is not None:
        query = query.where(declarations.c.state == state.value)
    async with ctx.read() as conn:
        rows = (await conn.execute(query.order_by(declarations.c.id).limit(min(limit, MAX_PAGE) + 1))).all()
        counted = (
            await conn.execute(
                sa.select(declarations.c.state, sa.func.count()).group_by(declarations.c.state)
            )
        ).all()
    page = rows[:limit]
    counts = {state.value: 0 for state in DeclarationState} | {state: int(n) for state, n in counted}
    return {
        "items": [_summary(row) for row in page],
        "next_after": page[-1].id if page else after_id,
        "has_more": len(rows) > limit,
        "counts": counts,
    }


async def _find(conn: Any, order_no: str) -> Any:
    row = (await conn.execute(sa.select(declarations).where(declarations.c.order_no == order_no))).first()
    if row is None:
        raise NotFound(f"no declaration for order {order_no}", code="declaration_not_found")
    return row


async def get_declaration(ctx: Context, order_no: str) -> dict[str, Any]:
    async with ctx.read() as conn:
        row = await _find(conn, order_no)
        sent = (
            await conn.execute(
                sa.select(customs_messages)
                .where(customs_messages.c.declaration_id == row.id)
                .order_by(customs_messages.c.id)
            )
        ).all()
        answers = (
            await conn.execute(
                sa.select(customs_receipts)
                .where(customs_receipts.c.declaration_id == row.id)
                .order_by(customs_receipts.c.seq, customs_receipts.c.part)
            )
        ).all()
    return {
        **_summary(row),
        "payment_declare_no": row.payment_declare_no,
        "logistics_code": row.logistics_code,
        "logistics_name": row.logistics_name,
        "bill_no": row.bill_no,
        "messages": [
            {
                "id": m.id,
                "kind": m.kind,
                "party": m.party,
                "app_type": m.app_type,
                "version": m.version,
                "guid": m.guid,
                "created_at": m.created_at,
                "sent_at": m.sent_at,
            }
            for m in sent
        ],
        "receipts": [
            {
                "kind": r.kind,
                "message_guid": r.message_guid,
                "return_status": r.return_status,
                "return_info": r.return_info,
                "return_time": r.return_time,
                "applied": r.applied,
                "received_at": r.received_at,
            }
            for r in answers
        ],
    }


async def message_body(
    ctx: Context, order_no: str, message_id: int, *, operator_id: int
) -> tuple[str, bytes]:
    """The file name and the exact bytes of one stored message. They carry ID numbers in full, so each
    download is recorded (``customs.message_downloaded``, with who downloaded it)."""
    async with ctx.transaction() as tx:
        row = await _find(tx.conn, order_no)
        message = (
            await tx.conn.execute(
                sa.select(customs_messages).where(
                    customs_messages.c.id == message_id, customs_messages.c.declaration_id == row.id
                )
            )
        ).first()
        if message is None:
            raise NotFound(f"order {order_no} has no message {message_id}", code="customs_message_not_found")
        await tx.emit(
            "customs.message_downloaded",
            f"order:{order_no}",
            {
                "order_no": order_no,
                "message_id": message_id,
                "kind": message.kind,
                "operator_id": operator_id,
            },
        )
    return f"{message.kind}-{order_no}-v{message.version}-{message.guid}.xml", open_body(ctx, message)


async def redeclare(ctx: Context, order_no: str, consignee: dict[str, Any] | None) -> dict[str, Any]:
    """Send a rejected declaration again under the next version. ``consignee`` (name, phone, address)
    corrects the order's consignee first, the usual fix for a consignee mismatch."""
    fix = _consignee_fix(consignee) if consignee else {}
    async with ctx.transaction() as tx:
        row = await _find(tx.conn, order_no)
        if row.state not in {state.value for state in REDECLARABLE}:
            raise Conflict(
                f"declaration of {order_no} is {row.state}; only a rejected one can be re-declared",
                code="declaration_not_rejected",
            )
        moved = await tx.conn.execute(
            declarations.update()
            .where(declarations.c.id == row.id, declarations.c.state == row.state)
            .values(
                state=DeclarationState.PENDING.value,
                version=row.version + 1,
                attempts=0,
                last_error=None,
                refund_after=None,
                next_attempt_at=tx.now,
                updated_at=tx.now,
            )
        )
        if moved.rowcount != 1:
            raise Conflict(
                f"declaration of {order_no} changed meanwhile; reload it", code="declaration_changed"
            )
        if fix:
            await tx.conn.execute(orders.update().where(orders.c.id == row.order_id).values(**fix))
        await tx.emit(
            "declaration.redeclared",
            f"order:{order_no}",
            {
                "order_no": order_no,
                "version": row.version + 1,
                "previous_reason_code": row.reason_code,
                "consignee_corrected": bool(fix),
            },
        )
    return await get_declaration(ctx, order_no)


def _consignee_fix(consignee: dict[str, Any]) -> dict[str, str | None]:
    """The same checks as checkout's: customs compares these fields with the carrier's waybill."""
    checked = check_consignee(
        consignee.get("name", ""),
        consignee.get("phone", ""),
        consignee.get("address", ""),
        consignee.get("district"),
    )
    return {
        "consignee_name": checked.name,
        "consignee_phone": checked.phone,
        "consignee_address": checked.address,
        "consignee_district": checked.district,
    }
