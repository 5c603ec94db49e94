"""The event log (outbox). Rows are appended in the transaction of the change they describe; readers
follow a cursor, so nothing is missed and nothing is read twice.

On PostgreSQL the cursor is (transaction id, row id) and a page only shows rows of transactions older
than the oldest one still running: a transaction that took its row id early but commits late can never
be jumped over. On SQLite, writers are serialised, so row ids already follow commit order.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from flashport.adapters.db.schema import outbox
from flashport.domain.errors import FieldProblem, InvalidInput


async def append(
    conn: AsyncConnection, type_: str, subject: str, payload: dict[str, Any], now: datetime
) -> None:
    await conn.execute(outbox.insert().values(type=type_, subject=subject, occurred_at=now, payload=payload))


async def append_many(
    conn: AsyncConnection, events: Sequence[tuple[str, str, dict[str, Any]]], now: datetime
) -> None:
    """Several events (type, subject, payload) in one executemany, in the order given."""
    if events:
        await conn.execute(
            outbox.insert(),
            [{"type": t, "subject": s, "occurred_at": now, "payload": p} for t, s, p in events],
        )


def encode_cursor(tx_seq: int | None, last_id: int) -> str:
    raw = f"o:{tx_seq if tx_seq is not None else ''}:{last_id}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> tuple[int, int]:
    """(tx_seq, id) of the last row read; (0, 0) before the first page."""
    if not cursor:
        return 0, 0
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        prefix, tx_seq, last_id = raw.split(":")
        if prefix != "o":
            raise ValueError(prefix)
        return int(tx_seq or 0), int(last_id)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput(
            "cursor is not one this API gave out",
            code="invalid_cursor",
            details=[FieldProblem("after", "use next_cursor from a previous page")],
        ) from exc


def _after(conn: AsyncConnection, tx_seq: int, last_id: int) -> list[sa.ColumnElement[bool] | sa.TextClause]:
    if conn.dialect.name != "postgresql":
        return [outbox.c.id > last_id]
    settled = sa.text("outbox.tx_seq < pg_snapshot_xmin(pg_current_snapshot())::text::bigint")
    return [sa.tuple_(outbox.c.tx_seq, outbox.c.id) > sa.tuple_(tx_seq, last_id), settled]


async def page(
    conn: AsyncConnection,
    *,
    after: str | None,
    limit: int,
    type_: str | None = None,
    subject: str | None = None,
) -> tuple[list[dict[str, Any]], str | None]:
    """Events after the cursor, in commit order, and the cursor to continue from (unchanged when the
    page is empty)."""
    tx_seq, last_id = decode_cursor(after)
    order = [outbox.c.tx_seq, outbox.c.id] if conn.dialect.name == "postgresql" else [outbox.c.id]
    query = sa.select(outbox).where(*_after(conn, tx_seq, last_id)).order_by(*order).limit(limit)
    if type_:
        query = query.where(outbox.c.type == type_)
    if subject:
        query = query.where(outbox.c.subject == subject)
    rows = [dict(r._mapping) for r in await conn.execute(query)]
    if not rows:
        return rows, after
    cursor = encode_cursor(rows[-1]["tx_seq"], rows[-1]["id"])
    return [_public(r) for r in rows], cursor


def _public(row: dict[str, Any]) -> dict[str, Any]:
    row.pop("tx_seq", None)
    return row
