"""What a compliance officer sees and does: declarations listed and filtered by state, one opened with
its messages and receipts, a message downloaded exactly as sent, and a rejected one re-declared after
a fix (its documents sent again as changes, under the next version)."""

from __future__ import annotations

from dataclasses import dataclass, fields

from sqlalchemy.ext.asyncio import AsyncConnection

from flashport.adapters.db import (
    customs_messages_repo,
    customs_receipts_repo,
    declarations_repo,
    stages_repo,
)
from flashport.adapters.db.customs_messages_repo import MessageSummary
from flashport.adapters.db.customs_receipts_repo import ReceiptSummary
from flashport.adapters.db.declarations_repo import Declaration
from flashport.domain.declarations import REDECLARABLE, DeclarationState
from flashport.domain.errors import Conflict, NotFound
from flashport.domain.identity import Consignee, check_consignee
from flashport.services.context import Context
from flashport.services.customs.messages import open_body

MAX_PAGE = 200


@dataclass(frozen=True)
class DeclarationPage:
    items: list[Declaration]  # oldest first
    next_after: int  # the keyset cursor of the next page: the last id shown
    has_more: bool
    counts: dict[str, int]  # how many declarations are in each state, every state listed
    needing_attention: int  # how many are on the worklist (flagged), whatever their state


@dataclass(frozen=True)
class DeclarationDetail(Declaration):
    """One declaration with what was sent (bodies left out: they carry ID numbers) and what customs
    answered."""

    messages: list[MessageSummary]
    receipts: list[ReceiptSummary]


@dataclass(frozen=True)
class MessageFile:
    """A kept message as downloaded: the file name and the exact bytes sent."""

    name: str
    body: bytes


@dataclass(frozen=True)
class ConsigneeCorrection:
    """The consignee as an operator typed it, not yet checked."""

    name: str
    phone: str
    address: str
    district: str | None = None


async def list_declarations(
    ctx: Context,
    *,
    state: DeclarationState | None,
    after_id: int,
    limit: int,
    attention_only: bool = False,
) -> DeclarationPage:
    """Oldest first, keyset-paginated by id (``next_after``), optionally one state only or only the
    worklist (``attention_only``: declarations that cannot go on without a person), with how many
    declarations are in each state and on the worklist."""
    limit = min(limit, MAX_PAGE)
    async with ctx.read() as conn:
        rows = await declarations_repo.page(
            conn, state=state, after_id=after_id, limit=limit + 1, attention_only=attention_only
        )
        counted = await declarations_repo.count_by_state(conn)
        flagged = await stages_repo.count_needing_attention(conn)
    page = rows[:limit]
    counts = {state.value: 0 for state in DeclarationState} | counted
    return DeclarationPage(
        items=page,
        next_after=page[-1].id if page else after_id,
        has_more=len(rows) > limit,
        counts=counts,
        needing_attention=flagged,
    )


async def _find(conn: AsyncConnection, order_no: str) -> Declaration:
    found = await declarations_repo.find_by_order_no(conn, order_no)
    if found is None:
        raise NotFound(f"no declaration for order {order_no}", code="declaration_not_found")
    return found


async def get_declaration(ctx: Context, order_no: str) -> DeclarationDetail:
    async with ctx.read() as conn:
        declaration = await _find(conn, order_no)
        sent = await customs_messages_repo.list_for_declaration(conn, declaration.id)
        answers = await customs_receipts_repo.list_for_declaration(conn, declaration.id)
    stored = {f.name: getattr(declaration, f.name) for f in fields(Declaration)}
    return DeclarationDetail(**stored, messages=sent, receipts=answers)


async def message_body(ctx: Context, order_no: str, message_id: int, *, operator_id: int) -> MessageFile:
    """The exact bytes of one stored message. They carry ID numbers in full, so each download is
    recorded (``customs.message_downloaded``, with who downloaded it)."""
    async with ctx.transaction() as tx:
        declaration = await _find(tx.conn, order_no)
        message = await customs_messages_repo.find_for_declaration(tx.conn, declaration.id, message_id)
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
    name = f"{message.kind}-{order_no}-v{message.version}-{message.guid}.xml"
    return MessageFile(name, open_body(ctx, message))


async def redeclare(ctx: Context, order_no: str, consignee: ConsigneeCorrection | None) -> DeclarationDetail:
    """Send a rejected declaration again under the next version. ``consignee`` (name, phone, address)
    corrects the order's consignee first, the usual fix for a consignee mismatch."""
    fix = _checked(consignee) if consignee else None
    async with ctx.transaction() as tx:
        declaration = await _find(tx.conn, order_no)
        if declaration.state not in REDECLARABLE:
            raise Conflict(
                f"declaration of {order_no} is {declaration.state}; only a rejected one can be re-declared",
                code="declaration_not_rejected",
                facts={
                    "order": order_no,
                    "state": str(getattr(declaration.state, "value", declaration.state)),
                },
            )
        if not await declarations_repo.reopen_as_next_version(tx.conn, declaration, tx.now):
            raise Conflict(
                f"declaration of {order_no} changed meanwhile; reload it",
                code="declaration_changed",
                facts={"order": order_no},
            )
        if fix is not None:
            await declarations_repo.correct_consignee(tx.conn, declaration, fix)
        await tx.emit(
            "declaration.redeclared",
            f"order:{order_no}",
            {
                "order_no": order_no,
                "version": declaration.version + 1,
                "previous_reason_code": declaration.reason_code,
                "consignee_corrected": fix is not None,
            },
        )
    return await get_declaration(ctx, order_no)


def _checked(consignee: ConsigneeCorrection) -> Consignee:
    """The same checks as checkout's: customs compares these fields with the carrier's waybill."""
    return check_consignee(consignee.name, consignee.phone, consignee.address, consignee.district)
