"""The operator console's own rows: pauses of running sales (``sale_pauses``) and the audit log of
operator actions (``operator_audit``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from flashport.adapters.db.schema import operator_audit, sale_pauses


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int
    at: datetime
    operator_id: int
    action: str
    subject: str
    details: dict[str, Any]


async def pause(conn: AsyncConnection, kind: str, ref: int, operator_id: int, now: datetime) -> bool:
    """Pause an event or an item; False when it already was (nothing changes)."""
    insert = (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(sale_pauses)
    done = await conn.execute(
        insert.values(kind=kind, ref=ref, paused_at=now, paused_by=operator_id).on_conflict_do_nothing()
    )
    return done.rowcount == 1


async def resume(conn: AsyncConnection, kind: str, ref: int) -> bool:
    """Lift a pause; False when there was none."""
    done = await conn.execute(
        sale_pauses.delete().where(sale_pauses.c.kind == kind, sale_pauses.c.ref == ref)
    )
    return done.rowcount == 1


async def paused(
    conn: AsyncConnection, event_ids: Sequence[int], item_ids: Sequence[int]
) -> set[tuple[str, int]]:
    """Which of these events and items are paused, as (kind, id) pairs."""
    if not event_ids and not item_ids:
        return set()
    query = sa.select(sale_pauses.c.kind, sale_pauses.c.ref).where(
        sa.or_(
            sa.and_(sale_pauses.c.kind == "event", sale_pauses.c.ref.in_(event_ids)),
            sa.and_(sale_pauses.c.kind == "item", sale_pauses.c.ref.in_(item_ids)),
        )
    )
    return {(row.kind, int(row.ref)) for row in await conn.execute(query)}


def paused_clause(item_id_column: Any, event_id_column: Any) -> sa.ColumnElement[bool]:
    """True when the item or its event is paused: for the buy path's terms query."""
    return sa.exists().where(
        sa.or_(
            sa.and_(sale_pauses.c.kind == "item", sale_pauses.c.ref == item_id_column),
            sa.and_(sale_pauses.c.kind == "event", sale_pauses.c.ref == event_id_column),
        )
    )


async def record(
    conn: AsyncConnection,
    operator_id: int,
    action: str,
    subject: str,
    details: Mapping[str, Any],
    now: datetime,
) -> None:
    await conn.execute(
        operator_audit.insert().values(
            at=now, operator_id=operator_id, action=action, subject=subject, details=dict(details)
        )
    )


async def audit_page(
    conn: AsyncConnection,
    *,
    before_id: int | None,
    limit: int,
    action: str | None = None,
    subject: str | None = None,
    operator_id: int | None = None,
) -> list[AuditEntry]:
    """Newest first: up to ``limit`` entries older than ``before_id``, filtered by what is given."""
    query = sa.select(operator_audit).order_by(operator_audit.c.id.desc()).limit(limit)
    if before_id is not None:
        query = query.where(operator_audit.c.id < before_id)
    if action is not None:
        query = query.where(operator_audit.c.action == action)
    if subject is not None:
        query = query.where(operator_audit.c.subject == subject)
    if operator_id is not None:
        query = query.where(operator_audit.c.operator_id == operator_id)
    return [AuditEntry(**row._mapping) for row in await conn.execute(query)]
