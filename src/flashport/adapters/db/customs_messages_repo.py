"""SQL for the customs messages kept for each declaration (the platform's own, and the partners' as they
reported them). Every function works in the caller's connection. Bodies stay sealed here: only the
service that holds the identity vault opens them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from flashport.adapters.db.schema import customs_batches, customs_messages

M = customs_messages.c
B = customs_batches.c
PLATFORM = "platform"
DELETE = "3"  # appType of a withdrawal


@dataclass(frozen=True)
class MessageSummary:
    """A kept message without its body: what an operator's list shows."""

    id: int
    kind: str  # CEB311, CEB411, CEB511, CEB621
    party: str  # who declared it: platform, payment or logistics
    app_type: str  # 1 new, 2 change, 3 delete
    version: int
    guid: str
    created_at: datetime
    sent_at: datetime | None


@dataclass(frozen=True)
class SealedMessage(MessageSummary):
    declaration_id: int
    body_cipher: str  # the bytes as sent (a batch's whole message), sealed by the identity vault


@dataclass(frozen=True)
class MessageOrigin:
    """Which declaration, at which version, a message guid belongs to."""

    declaration_id: int
    version: int


_SUMMARY = (M.id, M.kind, M.party, M.app_type, M.version, M.guid, M.created_at, M.sent_at)
# A kept message with the bytes it went in: its own, or its batch's whole message.
_SEALED = sa.select(
    *_SUMMARY, M.declaration_id, sa.func.coalesce(M.body_cipher, B.body_cipher).label("body_cipher")
).select_from(customs_messages.outerjoin(customs_batches, B.id == M.batch_id))


def _sealed(m: sa.RowMapping) -> SealedMessage:
    return SealedMessage(
        id=m["id"],
        kind=m["kind"],
        party=m["party"],
        app_type=m["app_type"],
        version=m["version"],
        guid=m["guid"],
        created_at=m["created_at"],
        sent_at=m["sent_at"],
        declaration_id=m["declaration_id"],
        body_cipher=m["body_cipher"],
    )


async def insert(
    conn: AsyncConnection,
    *,
    declaration_id: int,
    kind: str,
    party: str,
    app_type: str,
    version: int,
    guid: str,
    body_cipher: str,
    now: datetime,
    sent_at: datetime | None,
) -> int | None:
    """Keep a message; its id, or None when a message with this guid is kept already (unique guid).
    A savepoint keeps the caller's transaction usable after such a duplicate."""
    insert = customs_messages.insert().values(
        declaration_id=declaration_id,
        kind=kind,
        party=party,
        app_type=app_type,
        version=version,
        guid=guid,
        body_cipher=body_cipher,
        created_at=now,
        sent_at=sent_at,
    )
    try:
        async with conn.begin_nested():
            return int(await conn.scalar(insert.returning(M.id)))
    except IntegrityError:
        return None


async def mark_sent(conn: AsyncConnection, message_id: int, now: datetime) -> None:
    await conn.execute(customs_messages.update().where(M.id == message_id).values(sent_at=now))


async def find_platform_message(
    conn: AsyncConnection, declaration_id: int, kind: str, version: int, *, deleting: bool
) -> SealedMessage | None:
    """The platform's ``kind`` message of this version already kept: its withdrawal (appType 3) with
    ``deleting``, else the declaration itself."""
    delete = M.app_type == DELETE
    query = _SEALED.where(
        M.declaration_id == declaration_id,
        M.kind == kind,
        M.version == version,
        M.party == PLATFORM,
        delete if deleting else ~delete,
    )
    row = (await conn.execute(query)).first()
    return None if row is None else _sealed(row._mapping)


async def earlier_sent_guids(
    conn: AsyncConnection, declaration_id: int, kind: str, version: int
) -> list[str]:
    """Guids of the ``kind`` messages of earlier versions that were sent."""
    query = sa.select(M.guid).where(
        M.declaration_id == declaration_id, M.kind == kind, M.version < version, M.sent_at.is_not(None)
    )
    return list((await conn.scalars(query)).all())


async def list_for_declaration(conn: AsyncConnection, declaration_id: int) -> list[MessageSummary]:
    """Oldest first, without bodies."""
    rows = await conn.execute(sa.select(*_SUMMARY).where(M.declaration_id == declaration_id).order_by(M.id))
    return [MessageSummary(**row._mapping) for row in rows]


async def find_for_declaration(
    conn: AsyncConnection, declaration_id: int, message_id: int
) -> SealedMessage | None:
    query = _SEALED.where(M.id == message_id, M.declaration_id == declaration_id)
    row = (await conn.execute(query)).first()
    return None if row is None else _sealed(row._mapping)


async def origin_of(conn: AsyncConnection, guid: str) -> MessageOrigin | None:
    row = (await conn.execute(sa.select(M.declaration_id, M.version).where(M.guid == guid))).first()
    return None if row is None else MessageOrigin(row.declaration_id, row.version)
