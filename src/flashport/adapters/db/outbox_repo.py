"""SQL for the outbox: appending records in the caller's transaction, and reading them in commit order.

On PostgreSQL the position of a record is (transaction id, row id), and a read only shows records of
transactions older than the oldest one still running: a transaction that took its row id early but
commits late can never be jumped over. On SQLite, writers are serialised, so row ids already follow
commit order and the transaction id is NULL.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from flashport.adapters.db.schema import outbox

# (type, subject, payload) of one record to append.
NewRecord = tuple[str, str, dict[str, Any]]


@dataclass(frozen=True)
class StoredRecord:
    id: int
    type: str
    subject: str
    occurred_at: datetime
    payload: dict[str, Any]
    tx_seq: int | None  # PostgreSQL's transaction id; None on SQLite


async def append(
    conn: AsyncConnection, type_: str, subject: str, payload: dict[str, Any], now: datetime
) -> None:
    await conn.execute(outbox.insert().values(type=type_, subject=subject, occurred_at=now, payload=payload))


async def append_many(conn: AsyncConnection, records: Sequence[NewRecord], now: datetime) -> None:
    """Several records in one executemany, in the order given."""
    if records:
        await conn.execute(
            outbox.insert(),
            [{"type": t, "subject": s, "occurred_at": now, "payload": p} for t, s, p in records],
        )


def _after(conn: AsyncConnection, tx_seq: int, last_id: int) -> list[sa.ColumnElement[bool] | sa.TextClause]:
    if conn.dialect.name != "postgresql":
        return [outbox.c.id > last_id]
    settled = sa.text("outbox.tx_seq < pg_snapshot_xmin(pg_current_snapshot())::text::bigint")
    return [sa.tuple_(outbox.c.tx_seq, outbox.c.id) > sa.tuple_(tx_seq, last_id), settled]


async def read_after(
    conn: AsyncConnection,
    tx_seq: int,
    last_id: int,
    *,
    limit: int,
    type_: str | None = None,
    subject: str | None = None,
) -> list[StoredRecord]:
    """At most ``limit`` settled records after position (``tx_seq``, ``last_id``), in commit order,
    optionally of one type and about one subject."""
    order = [outbox.c.tx_seq, outbox.c.id] if conn.dialect.name == "postgresql" else [outbox.c.id]
    query = sa.select(outbox).where(*_after(conn, tx_seq, last_id)).order_by(*order).limit(limit)
    if type_:
        query = query.where(outbox.c.type == type_)
    if subject:
        query = query.where(outbox.c.subject == subject)
    return [
        StoredRecord(r.id, r.type, r.subject, r.occurred_at, r.payload, r.tx_seq)
        for r in await conn.execute(query)
    ]
