"""SQL for the per-partner event log: the relay's cursor over the outbox, appending events with their
per-subject sequence numbers, and reading a partner's events in order."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from flashport.adapters.db.partners_schema import partner_events, relay_cursors


@dataclass(frozen=True, slots=True)
class StoredEvent:
    id: int
    partner_id: int
    outbox_id: int
    type: str
    subject: str
    subject_seq: int
    occurred_at: datetime
    data: dict[str, Any]
    link: str | None


def _event(row: Any) -> StoredEvent:
    return StoredEvent(
        row.id,
        row.partner_id,
        row.outbox_id,
        row.type,
        row.subject,
        row.subject_seq,
        row.occurred_at,
        row.data,
        row.link,
    )


async def lock_cursor(conn: AsyncConnection, name: str, now: datetime) -> tuple[int, int]:
    """(tx_seq, last_id) of the relay ``name``, locked until the caller's transaction ends: one relay
    pass at a time, whatever the number of workers, so events are appended in commit order."""
    dialect_insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    await conn.execute(
        dialect_insert(relay_cursors)
        .values(name=name, tx_seq=0, last_id=0, updated_at=now)
        .on_conflict_do_nothing(index_elements=["name"])
    )
    row = (
        await conn.execute(
            sa.select(relay_cursors.c.tx_seq, relay_cursors.c.last_id)
            .where(relay_cursors.c.name == name)
            .with_for_update()
        )
    ).one()
    return int(row.tx_seq), int(row.last_id)


async def move_cursor(conn: AsyncConnection, name: str, tx_seq: int, last_id: int, now: datetime) -> None:
    await conn.execute(
        relay_cursors.update()
        .where(relay_cursors.c.name == name)
        .values(tx_seq=tx_seq, last_id=last_id, updated_at=now)
    )


async def last_seqs(
    conn: AsyncConnection, partner_ids: Iterable[int], subjects: Iterable[str]
) -> dict[tuple[int, str], int]:
    """The highest sequence number given so far per (partner, subject), for the ones asked."""
    pids, subs = sorted(set(partner_ids)), sorted(set(subjects))
    if not pids or not subs:
        return {}
    rows = await conn.execute(
        sa.select(
            partner_events.c.partner_id, partner_events.c.subject, sa.func.max(partner_events.c.subject_seq)
        )
        .where(partner_events.c.partner_id.in_(pids), partner_events.c.subject.in_(subs))
        .group_by(partner_events.c.partner_id, partner_events.c.subject)
    )
    return {(int(p), s): int(m) for p, s, m in rows}


async def append(conn: AsyncConnection, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        await conn.execute(partner_events.insert(), list(rows))


async def read_after(
    conn: AsyncConnection, partner_id: int, after_id: int, *, limit: int, types: Sequence[str] = ()
) -> list[StoredEvent]:
    query = (
        sa.select(partner_events)
        .where(partner_events.c.partner_id == partner_id, partner_events.c.id > after_id)
        .order_by(partner_events.c.id)
        .limit(limit)
    )
    if types:
        query = query.where(partner_events.c.type.in_(list(types)))
    return [_event(r) for r in await conn.execute(query)]


async def first_id_since(conn: AsyncConnection, partner_id: int, since: datetime) -> int:
    """The position just before the partner's first event that occurred at or after ``since``."""
    first = await conn.scalar(
        sa.select(sa.func.min(partner_events.c.id)).where(
            partner_events.c.partner_id == partner_id, partner_events.c.occurred_at >= since
        )
    )
    if first is None:
        last = await conn.scalar(
            sa.select(sa.func.max(partner_events.c.id)).where(partner_events.c.partner_id == partner_id)
        )
        return int(last or 0)
    return int(first) - 1


async def read_all_after(conn: AsyncConnection, after_id: int, *, limit: int) -> list[StoredEvent]:
    """Every partner's events after ``after_id``, in order (for a publisher that fans them out)."""
    query = (
        sa.select(partner_events)
        .where(partner_events.c.id > after_id)
        .order_by(partner_events.c.id)
        .limit(limit)
    )
    return [_event(r) for r in await conn.execute(query)]
