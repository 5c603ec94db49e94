"""SQL for the stages after declaring: shipping, refunding unfixed rejections, withdrawing, the
operator's worklist, and the lease on the single window's inbox. Every function works in the caller's
connection.

A stage takes a batch of rows by *leasing* them: in one short transaction it picks due rows with
``FOR UPDATE SKIP LOCKED`` (PostgreSQL; SQLite has one writer anyway) and pushes their
``next_attempt_at`` (unused outside ``pending``) to the end of the lease. Another worker skips rows
locked or leased, so nothing is done twice at once; a worker that dies leaves rows that become due
again when the lease ends, and a partner's failure leaves them leased until the retry time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from flashport.adapters.db.schema import (
    customs_inbox_cursors,
    customs_messages,
    customs_receipts,
    declarations,
)
from flashport.domain.declarations import DeclarationState

D = declarations.c
C = customs_inbox_cursors.c


@dataclass(frozen=True)
class Parcel:
    """A released declaration leased for shipping."""

    id: int
    order_no: str
    logistics_no: str | None


@dataclass(frozen=True)
class Shipped:
    id: int
    order_no: str
    logistics_no: str | None


def _lock(query: sa.Select[Any], conn: AsyncConnection) -> sa.Select[Any]:
    return query.with_for_update(skip_locked=True) if conn.dialect.name == "postgresql" else query


async def _lease(conn: AsyncConnection, due: sa.Select[Any], until: datetime) -> list[sa.Row[Any]]:
    """Lease the rows ``due`` selects (ids), returning id, order_no and logistics_no of each."""
    ids = list((await conn.scalars(_lock(due, conn))).all())
    if not ids:
        return []
    rows = await conn.execute(
        declarations.update()
        .where(D.id.in_(ids))
        .values(next_attempt_at=until)
        .returning(D.id, D.order_no, D.logistics_no)
    )
    return sorted(rows.all(), key=lambda row: ids.index(row.id))


async def lease_released(conn: AsyncConnection, now: datetime, until: datetime, limit: int) -> list[Parcel]:
    """Up to ``limit`` released declarations due by ``now``, released longest ago first, leased until
    ``until``."""
    due = (
        sa.select(D.id)
        .where(D.state == DeclarationState.RELEASED.value, D.next_attempt_at <= now)
        .order_by(D.released_at)
        .limit(limit)
    )
    return [Parcel(row.id, row.order_no, row.logistics_no) for row in await _lease(conn, due, until)]


async def mark_shipped(conn: AsyncConnection, ids: Sequence[int], now: datetime) -> list[Shipped]:
    """released -> shipped for every one of ``ids`` still released, in one statement; returns those
    this call moved."""
    if not ids:
        return []
    rows = await conn.execute(
        declarations.update()
        .where(D.id.in_(list(ids)), D.state == DeclarationState.RELEASED.value)
        .values(state=DeclarationState.SHIPPED.value, shipped_at=now, updated_at=now)
        .returning(D.id, D.order_no, D.logistics_no)
    )
    return [Shipped(row.id, row.order_no, row.logistics_no) for row in rows]


async def retry_later(conn: AsyncConnection, ids: Sequence[int], at: datetime) -> None:
    """Leave these leased rows alone until ``at`` (their partner failed)."""
    if ids:
        await conn.execute(declarations.update().where(D.id.in_(list(ids))).values(next_attempt_at=at))


async def claim_rejected_past_fix_window(conn: AsyncConnection, now: datetime, limit: int) -> list[int]:
    """Rejected declarations whose fix window has passed, locked for the caller's transaction (others
    skip them)."""
    due = (
        sa.select(D.id)
        .where(D.state == DeclarationState.REJECTED.value, D.refund_after <= now)
        .order_by(D.refund_after)
        .limit(limit)
    )
    return list((await conn.scalars(_lock(due, conn))).all())


async def lease_refunded_not_withdrawn(
    conn: AsyncConnection, now: datetime, until: datetime, limit: int
) -> list[int]:
    """Refunded declarations whose documents are still at customs, leased until ``until``."""
    due = (
        sa.select(D.id)
        .where(
            D.state == DeclarationState.REFUNDED.value,
            D.withdrawn_at.is_(None),
            D.next_attempt_at <= now,
        )
        .order_by(D.next_attempt_at)
        .limit(limit)
    )
    return [row.id for row in await _lease(conn, due, until)]


# --- the operator's worklist -------------------------------------------------------------------------


async def flag_for_attention(conn: AsyncConnection, declaration_id: int, reason: str, now: datetime) -> bool:
    """Put a declaration on the worklist with ``reason``; False when it is on it already."""
    flagged = await conn.execute(
        declarations.update()
        .where(D.id == declaration_id, D.attention_at.is_(None))
        .values(attention_reason=reason, attention_at=now, updated_at=now)
    )
    return flagged.rowcount == 1


@dataclass(frozen=True)
class Stuck:
    id: int
    order_no: str
    attempts: int
    last_error: str | None


async def flag_stuck_pending(
    conn: AsyncConnection, min_attempts: int, now: datetime, limit: int
) -> list[Stuck]:
    """Flag pending declarations whose sending failed ``min_attempts`` times or more and that are not on
    the worklist yet; returns those this call flagged."""
    stuck = (
        sa.select(D.id)
        .where(
            D.state == DeclarationState.PENDING.value,
            D.attempts >= min_attempts,
            D.attention_at.is_(None),
        )
        .limit(limit)
    )
    ids = list((await conn.scalars(_lock(stuck, conn))).all())
    if not ids:
        return []
    reason = sa.func.coalesce(D.last_error, "sending failed")
    rows = await conn.execute(
        declarations.update()
        .where(D.id.in_(ids), D.attention_at.is_(None))
        .values(
            attention_reason=sa.literal(f"sending failed {min_attempts}+ times: ") + reason,
            attention_at=now,
            updated_at=now,
        )
        .returning(D.id, D.order_no, D.attempts, D.last_error)
    )
    return [Stuck(row.id, row.order_no, row.attempts, row.last_error) for row in rows]


async def count_needing_attention(conn: AsyncConnection) -> int:
    return int(await conn.scalar(sa.select(sa.func.count()).where(D.attention_at.is_not(None))) or 0)


# --- the inbox lease and the receipts of one page ----------------------------------------------------


def _insert_for(conn: AsyncConnection) -> Any:
    return postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert


async def take_inbox_lease(
    conn: AsyncConnection, dxp_id: str, reader: str, now: datetime, until: datetime
) -> int | None:
    """Become the one reader of ``dxp_id`` until ``until``, unless another reader holds an unexpired
    lease; returns the read position (the last ``seq`` taken, 0 before the first) or None."""
    insert = _insert_for(conn)(customs_inbox_cursors).values(dxp_id=dxp_id, last_seq=0, updated_at=now)
    await conn.execute(insert.on_conflict_do_nothing(index_elements=[C.dxp_id]))
    taken = await conn.execute(
        customs_inbox_cursors.update()
        .where(
            C.dxp_id == dxp_id,
            sa.or_(C.leased_until.is_(None), C.leased_until < now, C.leased_by == reader),
        )
        .values(leased_by=reader, leased_until=until)
        .returning(C.last_seq)
    )
    row = taken.first()
    return None if row is None else int(row.last_seq)


async def give_back_inbox_lease(conn: AsyncConnection, dxp_id: str, reader: str) -> None:
    await conn.execute(
        customs_inbox_cursors.update()
        .where(C.dxp_id == dxp_id, C.leased_by == reader)
        .values(leased_by=None, leased_until=None)
    )


async def insert_receipts(conn: AsyncConnection, rows: Sequence[dict[str, Any]]) -> set[tuple[int, int]]:
    """Store a page's return nodes in one round trip; those at an inbox position stored already (unique
    on ``dxp_id``, ``seq``, ``part``) are skipped. Returns the (seq, part) of those this call stored.

    The rows go as parameters of one cached statement (SQLAlchemy's "insertmanyvalues" batches them
    into multi-row INSERTs when it runs), not as ``.values(rows)``: a statement holding the rows
    themselves is a new one each page, compiled again each time, measured at about 40 ms of CPU for a
    page of 200 against 5 to 7 ms."""
    if not rows:
        return set()
    stored = await conn.execute(_STORE_RECEIPTS[conn.dialect.name], list(rows))
    return {(row.seq, row.part) for row in stored}


def _store_receipts(dialect: Any) -> Any:
    return (
        dialect.insert(customs_receipts)
        .on_conflict_do_nothing(
            index_elements=[customs_receipts.c.dxp_id, customs_receipts.c.seq, customs_receipts.c.part]
        )
        .returning(customs_receipts.c.seq, customs_receipts.c.part)
    )


_STORE_RECEIPTS = {"postgresql": _store_receipts(postgresql), "sqlite": _store_receipts(sqlite)}


@dataclass(frozen=True)
class Origin:
    """Which declaration (and version of its documents) a sent message was about."""

    guid: str
    declaration_id: int
    order_no: str
    cop_no: str
    version: int


async def origins_of(conn: AsyncConnection, guids: Sequence[str]) -> list[Origin]:
    """The declarations the messages ``guids`` were sent for, in one query (a message carrying several
    orders names each of them)."""
    if not guids:
        return []
    m = customs_messages.c
    rows = await conn.execute(
        sa.select(m.guid, m.declaration_id, D.order_no, D.cop_no, m.version)
        .join(declarations, D.id == m.declaration_id)
        .where(m.guid.in_(sorted(set(guids))))
    )
    return [Origin(row.guid, row.declaration_id, row.order_no, row.cop_no, row.version) for row in rows]


@dataclass(frozen=True)
class DeferredReceipt:
    """A stored receipt that arrived while its declaration was still being sent."""

    id: int
    declaration_id: int
    version: int  # of the documents the receipt answers
    kind: str
    return_status: int
    return_info: str
    return_time: datetime


async def deferred_receipts_ready(conn: AsyncConnection, limit: int) -> list[DeferredReceipt]:
    """Deferred receipts whose declaration is no longer pending (declared, or moved on), in inbox
    order."""
    r, m = customs_receipts.c, customs_messages.c
    query = (
        sa.select(r.id, r.declaration_id, m.version, r.kind, r.return_status, r.return_info, r.return_time)
        .join(declarations, D.id == r.declaration_id)
        .join(customs_messages, sa.and_(m.guid == r.message_guid, m.declaration_id == r.declaration_id))
        .where(r.deferred, D.state != DeclarationState.PENDING.value)
        .order_by(r.seq, r.part)
        .limit(limit)
    )
    if conn.dialect.name == "postgresql":  # another reader (a lease that ran out) takes others
        query = query.with_for_update(skip_locked=True, of=customs_receipts)
    rows = await conn.execute(query)
    return [DeferredReceipt(**row._mapping) for row in rows]


async def settle_deferred(conn: AsyncConnection, applied: Sequence[int], skipped: Sequence[int]) -> None:
    """Deferred receipts done with: ``applied`` moved their declaration, ``skipped`` did not."""
    r = customs_receipts.c
    for ids, was_applied in ((applied, True), (skipped, False)):
        if ids:
            await conn.execute(
                customs_receipts.update()
                .where(r.id.in_(list(ids)), r.deferred)
                .values(deferred=False, applied=was_applied)
            )
