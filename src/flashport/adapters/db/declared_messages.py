"""What an after-sales row declared to customs shares, whichever message it is: a return (CEB625, table
``aftersales``) or a withdrawal (CEB623, table ``cancellations``). Each such table has ``id``,
``order_id``, ``state``, ``cop_no``, ``message_guid``, ``customs_status``, ``customs_info``,
``refund_id``, ``attempts``, ``last_error``, ``next_attempt_at``, ``declared_at``, ``answered_at`` and
``updated_at``; the repos pass their table and the values of their state enum, and keep their own row
types."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection


async def row_where(conn: AsyncConnection, columns: Sequence[sa.Column[Any]], condition: Any) -> Any | None:
    """The one row matching ``condition`` (by id or by order), or None."""
    return (await conn.execute(sa.select(*columns).where(condition))).first()


async def lease(
    conn: AsyncConnection, table: sa.Table, state: str, now: datetime, until: datetime, limit: int
) -> list[int]:
    """Rows in ``state`` due for their next attempt, leased until ``until`` (others skip them meanwhile)."""
    c = table.c
    query = (
        sa.select(c.id)
        .where(c.state == state, c.next_attempt_at <= now)
        .order_by(c.next_attempt_at, c.id)
        .limit(limit)
    )
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    ids = [int(i) for i in (await conn.scalars(query)).all()]
    if ids:
        await conn.execute(table.update().where(c.id.in_(ids)).values(next_attempt_at=until))
    return ids


async def mark_declared(
    conn: AsyncConnection,
    table: sa.Table,
    row_id: int,
    was: str,
    state: str,
    guid: str,
    now: datetime,
    **more: Any,
) -> bool:
    """``was`` -> ``state`` (declared) with the message's head guid; ``more`` are further columns to set."""
    moved = await conn.execute(
        table.update()
        .where(table.c.id == row_id, table.c.state == was)
        .values(state=state, message_guid=guid, declared_at=now, last_error=None, updated_at=now, **more)
    )
    return moved.rowcount == 1


async def postpone(
    conn: AsyncConnection, table: sa.Table, row_id: int, error: str, at: datetime, now: datetime
) -> None:
    """One more failed attempt: its error kept (cut to the column's 2,000 characters), retried at ``at``."""
    await conn.execute(
        table.update()
        .where(table.c.id == row_id)
        .values(attempts=table.c.attempts + 1, last_error=error[:2000], next_attempt_at=at, updated_at=now)
    )


async def declared_by_guid_or_cop_no(
    conn: AsyncConnection,
    table: sa.Table,
    columns: Sequence[sa.Column[Any]],
    declared: str,
    guid: str,
    cop_no: str | None,
) -> Any | None:
    """The declared row a receipt answers: by the head guid it echoes, else by copNo; locked for the
    transaction (PostgreSQL; SQLite has one writer)."""
    condition = table.c.message_guid == guid
    if cop_no:
        condition = condition | (table.c.cop_no == cop_no)
    query = sa.select(*columns).where(condition, table.c.state == declared)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    return (await conn.execute(query.limit(1))).first()


async def answer(
    conn: AsyncConnection,
    table: sa.Table,
    row_id: int,
    *,
    was: str,
    state: str,
    status: int | None,
    info: str,
    refund_id: int | None,
    now: datetime,
) -> bool:
    """``was`` -> ``state`` with customs' answer (or the platform's reason, ``status`` None)."""
    moved = await conn.execute(
        table.update()
        .where(table.c.id == row_id, table.c.state == was)
        .values(
            state=state,
            customs_status=status,
            customs_info=info,
            refund_id=refund_id,
            answered_at=now,
            updated_at=now,
        )
    )
    return moved.rowcount == 1
