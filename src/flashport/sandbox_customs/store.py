"""Reads and writes of documents on file, declarations and the buyers' yearly totals.

Every function takes the connection of a transaction the caller owns (see :mod:`.filing`): filing a
message, matching and answering happen in one transaction or not at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from flashport.ceb import Receipt, receipt_message
from flashport.ceb.formatting import CHINA_STANDARD_TIME
from flashport.sandbox_customs.documents import DocumentKind
from flashport.sandbox_customs.reading import Incoming
from flashport.sandbox_customs.sealing import Sealer
from flashport.sandbox_customs.statuses import DeclarationState
from flashport.sandbox_customs.tables import CURRENT, SUPERSEDED, declarations, documents, inbox, year_totals


@dataclass(frozen=True)
class FiledDocument:
    id: int
    kind: DocumentKind
    guid: str
    app_type: str
    sender: str
    message: bytes  # sealed: open with the simulator's Sealer
    received_at: datetime
    unique_no: str | None = None
    owner_code: str | None = None  # whose number unique_no is (the carrier's, for a waybill)
    ebp_code: str = ""  # the platform it joins by ("" for payments and waybills)


@dataclass(frozen=True)
class Declaration:
    id: int
    order_no: str
    ebp_code: str
    state: DeclarationState
    reason_code: str | None
    reason_text: str | None
    pre_no: str | None
    invt_no: str | None
    updated_at: datetime


def _filed(row: sa.Row[Any]) -> FiledDocument:
    return FiledDocument(
        row.id,
        DocumentKind(row.kind),
        row.guid,
        row.app_type,
        row.sender,
        row.message,
        row.received_at,
        row.unique_no,
        row.owner_code,
        row.ebp_code,
    )


def _declaration(row: sa.Row[Any]) -> Declaration:
    return Declaration(**{**row._mapping, "state": DeclarationState(row.state)})


# The statements run for every document filed, built once: building one costs about twice running it.
_ON_FILE = (
    sa.select(documents)
    .where(documents.c.order_no == sa.bindparam("order_no"), documents.c.status == CURRENT)
    .order_by(documents.c.id)
)
_ON_FILE_OF_PLATFORM = _ON_FILE.where(
    sa.or_(documents.c.ebp_code == sa.bindparam("ebp_code"), documents.c.ebp_code == "")
)
_HOLDER = (
    sa.select(documents.c.order_no)
    .where(
        documents.c.kind == sa.bindparam("kind"),
        documents.c.owner_code == sa.bindparam("owner"),
        documents.c.unique_no == sa.bindparam("number"),
        documents.c.status == CURRENT,
        sa.not_(
            (documents.c.order_no == sa.bindparam("order_no"))
            & (documents.c.ebp_code == sa.bindparam("ebp_code"))
        ),
    )
    .limit(1)
)
_WAYBILLS = (
    sa.select(documents)
    .where(
        documents.c.kind == DocumentKind.WAYBILL.value,
        documents.c.order_no == sa.bindparam("order_no"),
        documents.c.owner_code == sa.bindparam("logistics_code"),
        documents.c.status == CURRENT,
    )
    .order_by(documents.c.id.desc())
    .limit(1)
)
_WAYBILL_NUMBERED = _WAYBILLS.where(documents.c.unique_no == sa.bindparam("logistics_no"))
_FILED_BEFORE = sa.select(documents.c.id).where(
    documents.c.guid == sa.bindparam("guid"),
    documents.c.kind == sa.bindparam("kind"),
    documents.c.message_digest == sa.bindparam("digest"),
)
_FILE = documents.insert()
_DECLARATIONS = (
    sa.select(declarations)
    .where(declarations.c.order_no == sa.bindparam("order_no"))
    .order_by(declarations.c.updated_at.desc())
)
_DECLARATIONS_OF_PLATFORM = _DECLARATIONS.where(declarations.c.ebp_code == sa.bindparam("ebp_code"))


async def documents_on_file(
    conn: AsyncConnection, order_no: str, ebp_code: str | None
) -> dict[DocumentKind, FiledDocument]:
    """The current document of each kind for the order; ``ebp_code=None``: of any platform."""
    if ebp_code is None:
        rows = (await conn.execute(_ON_FILE, {"order_no": order_no})).all()
    else:
        rows = (await conn.execute(_ON_FILE_OF_PLATFORM, {"order_no": order_no, "ebp_code": ebp_code})).all()
    return {filed.kind: filed for filed in map(_filed, rows)}


def unique_key(kind: DocumentKind, head: dict[str, str] | Any) -> tuple[str, str] | None:
    """What customs keeps unique across orders, with whose number it is: the carrier's waybill
    number, the payment company's transaction id, the declaring agent's copNo."""
    names = {
        DocumentKind.WAYBILL: ("logisticsCode", "logisticsNo"),
        DocumentKind.PAYMENT: ("payCode", "payTransactionId"),
        DocumentKind.INVENTORY: ("agentCode", "copNo"),
    }.get(kind)
    if names is None or not head.get(names[1]):
        return None
    return head.get(names[0], ""), head[names[1]]


async def holder_of(
    conn: AsyncConnection, kind: DocumentKind, key: tuple[str, str], order_no: str, ebp_code: str
) -> str | None:
    """The other order (number) whose current document of ``kind`` already uses ``key``, if any."""
    owner, number = key
    values = {
        "kind": kind.value,
        "owner": owner,
        "number": number,
        "order_no": order_no,
        "ebp_code": ebp_code,
    }
    return (await conn.execute(_HOLDER, values)).scalar()


async def waybill_named(
    conn: AsyncConnection, order_no: str, logistics_code: str, logistics_no: str | None
) -> FiledDocument | None:
    """The order's current waybill from that carrier with that number (a waybill is the carrier's
    number); ``logistics_no=None``: the order's current waybill from that carrier, whatever its number
    (what a correction of the number changes)."""
    values = {"order_no": order_no, "logistics_code": logistics_code}
    if logistics_no is None:
        row = (await conn.execute(_WAYBILLS, values)).first()
    else:
        row = (await conn.execute(_WAYBILL_NUMBERED, values | {"logistics_no": logistics_no})).first()
    return None if row is None else _filed(row)


async def is_redelivery(conn: AsyncConnection, incoming: Incoming, sealer: Sealer) -> bool:
    """The very same message (guid and bytes) was filed before: a sender resending after a lost answer.
    The exchange delivers it once; a different message reusing a guid is not a redelivery."""
    envelope = incoming.envelope
    guid = envelope.head.get("guid") or envelope.message_guid
    values = {"guid": guid, "kind": envelope.kind.value, "digest": sealer.digest(incoming.raw)}
    return await conn.scalar(_FILED_BEFORE, values) is not None


async def file_document(
    conn: AsyncConnection, incoming: Incoming, ebp_code: str, status: str, at: datetime, sealer: Sealer
) -> None:
    envelope = incoming.envelope
    owner, number = unique_key(envelope.kind, envelope.head) or (None, None)
    await conn.execute(
        _FILE,
        {
            "kind": envelope.kind.value,
            "order_no": incoming.facts.order_no,
            "ebp_code": ebp_code,
            "guid": envelope.head.get("guid") or envelope.message_guid,
            "app_type": envelope.head.get("appType", ""),
            "sender": envelope.dxp_id,
            "status": status,
            "message": sealer.seal(incoming.raw),
            "received_at": at,
            "owner_code": owner,
            "unique_no": number,
            "message_digest": sealer.digest(incoming.raw),
        },
    )


async def supersede(conn: AsyncConnection, document: FiledDocument) -> None:
    await conn.execute(documents.update().where(documents.c.id == document.id).values(status=SUPERSEDED))


async def declarations_of(conn: AsyncConnection, order_no: str, ebp_code: str | None) -> list[Declaration]:
    """The declarations of the order number; ``ebp_code=None``: of any platform."""
    if ebp_code is None:
        rows = (await conn.execute(_DECLARATIONS, {"order_no": order_no})).all()
    else:
        rows = (
            await conn.execute(_DECLARATIONS_OF_PLATFORM, {"order_no": order_no, "ebp_code": ebp_code})
        ).all()
    return [_declaration(row) for row in rows]


async def listed_declarations(conn: AsyncConnection, state: DeclarationState | None) -> list[Declaration]:
    query = sa.select(declarations).order_by(declarations.c.id)
    if state is not None:
        query = query.where(declarations.c.state == state.value)
    return [_declaration(row) for row in (await conn.execute(query)).all()]


async def open_declaration(conn: AsyncConnection, order_no: str, ebp_code: str, at: datetime) -> Declaration:
    """The declaration of a newly filed inventory list: made (with its pre-entry number) if new,
    reopened as waiting if it had been cancelled."""
    found = await declarations_of(conn, order_no, ebp_code)
    if found and found[0].state is not DeclarationState.CANCELLED:
        return found[0]
    if found:
        return await update_declaration(conn, found[0], at, state=DeclarationState.WAITING)
    values = {"order_no": order_no, "ebp_code": ebp_code, "state": DeclarationState.WAITING.value}
    made = await conn.execute(declarations.insert().values(**values, updated_at=at))
    (new_id,) = made.inserted_primary_key or (0,)
    day = at.astimezone(CHINA_STANDARD_TIME).strftime("%Y%m%d")
    pre_no = f"B{day}{new_id:09d}"  # 18 characters, as the receipt schema asks
    await conn.execute(declarations.update().where(declarations.c.id == new_id).values(pre_no=pre_no))
    return (await declarations_of(conn, order_no, ebp_code))[0]


async def update_declaration(
    conn: AsyncConnection, declaration: Declaration, at: datetime, **values: Any
) -> Declaration:
    """Set ``values`` (``state`` as a :class:`DeclarationState`); reason fields not given are cleared."""
    values = {"reason_code": None, "reason_text": None, **values, "updated_at": at}
    values["state"] = DeclarationState(values.get("state", declaration.state)).value
    await conn.execute(declarations.update().where(declarations.c.id == declaration.id).values(**values))
    return _declaration(
        (await conn.execute(sa.select(declarations).where(declarations.c.id == declaration.id))).one()
    )


async def move_declaration(
    conn: AsyncConnection,
    declaration: Declaration,
    before: DeclarationState,
    after: DeclarationState,
    at: datetime,
    **values: Any,
) -> bool:
    """``before`` -> ``after`` (with ``values``) only if the declaration is still ``before``: of two
    verdicts racing for one list (a release and a CEB623 withdrawal), exactly one moves it."""
    moved = await conn.execute(
        declarations.update()
        .where(declarations.c.id == declaration.id, declarations.c.state == before.value)
        .values(**values, state=after.value, updated_at=at)
    )
    return bool(moved.rowcount == 1)


async def released_total(conn: AsyncConnection, sealer: Sealer, id_number: str, year: int) -> int:
    key = (year_totals.c.id_hash == sealer.id_key(id_number)) & (year_totals.c.year == year)
    total = (await conn.execute(sa.select(year_totals.c.released_fen).where(key))).scalar()
    return int(total or 0)


async def add_released(conn: AsyncConnection, sealer: Sealer, id_number: str, year: int, fen: int) -> None:
    id_key = sealer.id_key(id_number)
    key = (year_totals.c.id_hash == id_key) & (year_totals.c.year == year)
    added = await conn.execute(
        year_totals.update().where(key).values(released_fen=year_totals.c.released_fen + fen)
    )
    if added.rowcount == 0:
        await conn.execute(year_totals.insert().values(id_hash=id_key, year=year, released_fen=fen))


async def post_receipt(conn: AsyncConnection, dxp_id: str, receipt: Receipt, order_no: str | None) -> None:
    """A receipt in the declarant's inbox, as the message it will fetch."""
    await conn.execute(
        inbox.insert().values(
            dxp_id=dxp_id,
            kind=receipt.kind.value,
            message=receipt_message([receipt]).decode(),
            order_no=order_no,
            return_status=receipt.return_status,
            return_info=receipt.return_info,
            sent_at=receipt.return_time,
        )
    )
