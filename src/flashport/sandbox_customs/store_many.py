"""Set-based reads and writes of one message's documents (up to 100): what :mod:`.store` does for one
document, for all of them in one statement each. Like :mod:`.store`, every function takes the
connection of the caller's write transaction (see :mod:`.batch_filing`)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from flashport.ceb.formatting import CHINA_STANDARD_TIME
from flashport.sandbox_customs.documents import DocumentKind
from flashport.sandbox_customs.reading import Incoming
from flashport.sandbox_customs.sealing import Sealer
from flashport.sandbox_customs.statuses import DeclarationState
from flashport.sandbox_customs.store import Declaration, FiledDocument, _declaration, _filed, unique_key
from flashport.sandbox_customs.tables import CURRENT, declarations, documents, year_totals

# Built once, like store's: expanding IN lists keep one compiled form for any number of orders.
_CURRENT_OF = (
    sa.select(documents)
    .where(documents.c.order_no.in_(sa.bindparam("order_nos", expanding=True)), documents.c.status == CURRENT)
    .order_by(documents.c.id)
)
_FILED_BEFORE = sa.select(documents.c.guid, documents.c.message_digest).where(
    documents.c.guid.in_(sa.bindparam("guids", expanding=True)), documents.c.kind == sa.bindparam("kind")
)
_NUMBERS_USED = sa.select(
    documents.c.order_no, documents.c.ebp_code, documents.c.owner_code, documents.c.unique_no
).where(
    documents.c.kind == sa.bindparam("kind"),
    documents.c.unique_no.in_(sa.bindparam("numbers", expanding=True)),
    documents.c.status == CURRENT,
)
_DECLARATIONS_OF = (
    sa.select(declarations)
    .where(declarations.c.order_no.in_(sa.bindparam("order_nos", expanding=True)))
    .order_by(declarations.c.updated_at.desc())
)
_FILE = documents.insert()
_OPEN = declarations.insert()
_PRE_NO = (
    declarations.update()
    .where(declarations.c.id == sa.bindparam("declaration_id"))
    .values(pre_no=sa.bindparam("given_pre_no"))
)
_ACCEPT = (
    declarations.update()
    .where(declarations.c.id == sa.bindparam("declaration_id"))
    .values(
        state=DeclarationState.ACCEPTED.value,
        invt_no=sa.bindparam("given_invt_no"),
        reason_code=None,
        reason_text=None,
        updated_at=sa.bindparam("at"),
    )
)
_RELEASE = (
    declarations.update()
    .where(
        declarations.c.id == sa.bindparam("declaration_id"),
        declarations.c.state == DeclarationState.ACCEPTED.value,
    )
    .values(state=DeclarationState.RELEASED.value, updated_at=sa.bindparam("at"))
)
_TOTALS = sa.select(year_totals).where(year_totals.c.id_hash.in_(sa.bindparam("keys", expanding=True)))
_ADD = (
    year_totals.update()
    .where(year_totals.c.id_hash == sa.bindparam("key"), year_totals.c.year == sa.bindparam("in_year"))
    .values(released_fen=year_totals.c.released_fen + sa.bindparam("fen"))
)
_NEW_TOTAL = year_totals.insert()


async def current_documents(
    conn: AsyncConnection, order_nos: Iterable[str]
) -> dict[str, list[FiledDocument]]:
    """Every current document of each order, oldest first."""
    found: dict[str, list[FiledDocument]] = defaultdict(list)
    for row in (await conn.execute(_CURRENT_OF, {"order_nos": sorted(set(order_nos))})).all():
        found[row.order_no].append(_filed(row))
    return found


def on_file_of(filed: Sequence[FiledDocument], ebp_code: str | None) -> dict[DocumentKind, FiledDocument]:
    """What :func:`.store.documents_on_file` answers, from the order's current documents."""
    return {d.kind: d for d in filed if ebp_code is None or d.ebp_code in (ebp_code, "")}


def waybill_of(
    filed: Sequence[FiledDocument], logistics_code: str, logistics_no: str | None
) -> FiledDocument | None:
    """What :func:`.store.waybill_named` answers, from the order's current documents (``owner`` is the
    carrier's code, kept beside each document)."""
    for d in reversed(filed):  # the newest first, as store's query orders them
        numbered = logistics_no is None or d.unique_no == logistics_no
        if d.kind is DocumentKind.WAYBILL and d.owner_code == logistics_code and numbered:
            return d
    return None


async def redelivered(conn: AsyncConnection, incomings: Sequence[Incoming], sealer: Sealer) -> set[int]:
    """The positions in ``incomings`` of the very messages filed before (guid and bytes alike)."""
    guids = [i.envelope.head.get("guid") or i.envelope.message_guid for i in incomings]
    kind = incomings[0].envelope.kind.value
    filed = {
        (row.guid, row.message_digest)
        for row in await conn.execute(_FILED_BEFORE, {"guids": guids, "kind": kind})
    }
    return {n for n, i in enumerate(incomings) if (guids[n], sealer.digest(i.raw)) in filed}


async def numbers_used(
    conn: AsyncConnection, kind: DocumentKind, keys: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], list[tuple[str, str]]]:
    """For each (owner, number): the (order_no, ebp_code) of every current document of ``kind`` using it."""
    wanted = set(keys)
    if not wanted:
        return {}
    numbers = sorted({number for _, number in wanted})
    used: dict[tuple[str, str], list[tuple[str, str]]] = defaultdict(list)
    for row in await conn.execute(_NUMBERS_USED, {"kind": kind.value, "numbers": numbers}):
        if (key := (row.owner_code or "", row.unique_no)) in wanted:
            used[key].append((row.order_no, row.ebp_code))
    return used


async def declarations_of(conn: AsyncConnection, order_nos: Iterable[str]) -> dict[str, list[Declaration]]:
    """The declarations of each order number, of any platform, the most recently changed first."""
    found: dict[str, list[Declaration]] = defaultdict(list)
    for row in (await conn.execute(_DECLARATIONS_OF, {"order_nos": sorted(set(order_nos))})).all():
        found[row.order_no].append(_declaration(row))
    return found


async def file_documents(
    conn: AsyncConnection, filed: Sequence[tuple[Incoming, str]], at: datetime, sealer: Sealer
) -> None:
    """File new documents (current), each with the platform it joins by: :func:`.store.file_document`
    for many."""
    rows: list[dict[str, Any]] = []
    for incoming, ebp_code in filed:
        envelope = incoming.envelope
        owner, number = unique_key(envelope.kind, envelope.head) or (None, None)
        rows.append(
            {
                "kind": envelope.kind.value,
                "order_no": incoming.facts.order_no,
                "ebp_code": ebp_code,
                "guid": envelope.head.get("guid") or envelope.message_guid,
                "app_type": envelope.head.get("appType", ""),
                "sender": envelope.dxp_id,
                "status": CURRENT,
                "message": sealer.seal(incoming.raw),
                "received_at": at,
                "owner_code": owner,
                "unique_no": number,
                "message_digest": sealer.digest(incoming.raw),
            }
        )
    if rows:
        await conn.execute(_FILE, rows)


async def open_declarations(
    conn: AsyncConnection, orders: Sequence[tuple[str, str]], at: datetime
) -> dict[tuple[str, str], Declaration]:
    """New declarations (waiting, each with its pre-entry number) for (order_no, ebp_code) pairs that
    have none: :func:`.store.open_declaration` for many."""
    if not orders:
        return {}
    state = DeclarationState.WAITING.value
    await conn.execute(
        _OPEN, [{"order_no": o, "ebp_code": e, "state": state, "updated_at": at} for o, e in orders]
    )
    wanted = set(orders)
    made = [
        d
        for found in (await declarations_of(conn, [o for o, _ in orders])).values()
        for d in found
        if (d.order_no, d.ebp_code) in wanted
    ]
    day = at.astimezone(CHINA_STANDARD_TIME).strftime("%Y%m%d")
    given = {d.id: f"B{day}{d.id:09d}" for d in made}  # 18 characters, as the receipt schema asks
    await conn.execute(_PRE_NO, [{"declaration_id": i, "given_pre_no": p} for i, p in given.items()])
    return {(d.order_no, d.ebp_code): _with(d, pre_no=given[d.id]) for d in made}


def _with(declaration: Declaration, **values: Any) -> Declaration:
    return Declaration(**{**declaration.__dict__, **values})


async def accept(conn: AsyncConnection, accepted: Sequence[tuple[Declaration, str]], at: datetime) -> None:
    """Waiting declarations accepted, each with its inventory number."""
    rows = [{"declaration_id": d.id, "given_invt_no": invt_no, "at": at} for d, invt_no in accepted]
    if rows:
        await conn.execute(_ACCEPT, rows)


async def release(conn: AsyncConnection, accepted: Sequence[Declaration], at: datetime) -> None:
    """Accepted declarations released; the caller accepted them in this same transaction."""
    if accepted:
        await conn.execute(_RELEASE, [{"declaration_id": d.id, "at": at} for d in accepted])


async def released_totals(conn: AsyncConnection, keys: Iterable[str]) -> dict[tuple[str, int], int]:
    """(id hash, year) -> released fen, for the buyers keyed by ``keys`` (:meth:`Sealer.id_key`)."""
    rows = await conn.execute(_TOTALS, {"keys": sorted(set(keys))})
    return {(row.id_hash, row.year): int(row.released_fen) for row in rows}


async def add_released(
    conn: AsyncConnection, added: dict[tuple[str, int], int], known: Iterable[tuple[str, int]]
) -> None:
    """Add fen to each (id hash, year) total; ``known``: the totals that exist already."""
    existing = set(known)
    updates = [{"key": k, "in_year": y, "fen": fen} for (k, y), fen in added.items() if (k, y) in existing]
    inserts = [
        {"id_hash": k, "year": y, "released_fen": fen}
        for (k, y), fen in added.items()
        if (k, y) not in existing
    ]
    if updates:
        await conn.execute(_ADD, updates)
    if inserts:
        await conn.execute(_NEW_TOTAL, inserts)
