"""SQL for customs' receipts and the platform's read position in its single-window inbox. Every
function works in the caller's connection."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from flashport.adapters.db.schema import customs_inbox_cursors, customs_receipts

R = customs_receipts.c


@dataclass(frozen=True)
class ReceiptSummary:
    """A stored receipt without the message it came in: what an operator's list shows."""

    kind: str  # CEB312, CEB622...
    message_guid: str
    return_status: int
    return_info: str
    return_time: datetime
    applied: bool  # false for a receipt about an older version, or one stored by another worker
    received_at: datetime


@dataclass(frozen=True)
class InboxPosition:
    """Where one return node sits in the single window's inbox: message ``seq``, node ``part``."""

    dxp_id: str
    seq: int
    part: int


async def insert_once(
    conn: AsyncConnection,
    position: InboxPosition,
    *,
    declaration_id: int | None,
    kind: str,
    message_guid: str,
    return_status: int,
    return_info: str,
    return_time: datetime,
    applied: bool,
    body: str,
    now: datetime,
) -> bool:
    """Store a return node; False when one at the same inbox position is stored already (unique on
    ``dxp_id``, ``seq``, ``part``): another worker got there first. A savepoint keeps the caller's
    transaction usable after that."""
    try:
        async with conn.begin_nested():
            await conn.execute(
                customs_receipts.insert().values(
                    declaration_id=declaration_id,
                    dxp_id=position.dxp_id,
                    seq=position.seq,
                    part=position.part,
                    kind=kind,
                    message_guid=message_guid,
                    return_status=return_status,
                    return_info=return_info,
                    return_time=return_time,
                    applied=applied,
                    body=body,
                    received_at=now,
                )
            )
    except IntegrityError:
        return False
    return True


async def refused_guids(conn: AsyncConnection, guids: Iterable[str]) -> set[str]:
    """Which of these messages customs answered with a processing error (a negative status)."""
    query = sa.select(R.message_guid).where(R.message_guid.in_(list(guids)), R.return_status < 0)
    return set((await conn.scalars(query)).all())


async def list_for_declaration(conn: AsyncConnection, declaration_id: int) -> list[ReceiptSummary]:
    """In inbox order."""
    query = (
        sa.select(
            R.kind, R.message_guid, R.return_status, R.return_info, R.return_time, R.applied, R.received_at
        )
        .where(R.declaration_id == declaration_id)
        .order_by(R.seq, R.part)
    )
    return [ReceiptSummary(**row._mapping) for row in await conn.execute(query)]


async def inbox_read_up_to(conn: AsyncConnection, dxp_id: str) -> int:
    """The ``seq`` of the last inbox message taken; 0 before the first."""
    query = sa.select(customs_inbox_cursors.c.last_seq).where(customs_inbox_cursors.c.dxp_id == dxp_id)
    return int(await conn.scalar(query) or 0)


async def advance_inbox(conn: AsyncConnection, dxp_id: str, seq: int, now: datetime) -> None:
    """Move the read position forward to ``seq``; never back (a slower worker's older ``seq`` is
    ignored)."""
    dialect_insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    insert = dialect_insert(customs_inbox_cursors).values(dxp_id=dxp_id, last_seq=seq, updated_at=now)
    await conn.execute(
        insert.on_conflict_do_update(
            index_elements=[customs_inbox_cursors.c.dxp_id],
            set_={"last_seq": insert.excluded.last_seq, "updated_at": insert.excluded.updated_at},
            where=customs_inbox_cursors.c.last_seq < insert.excluded.last_seq,
        )
    )
