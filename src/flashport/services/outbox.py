"""The event log (outbox). Rows are appended in the transaction of the change they describe; partners
read them in id order through a cursor, so nothing is missed and nothing is read twice."""

from __future__ import annotations

import base64
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


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(f"o:{last_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        prefix, value = raw.split(":", 1)
        if prefix != "o":
            raise ValueError(prefix)
        return int(value)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput(
            "cursor is not one this API gave out",
            code="invalid_cursor",
            details=[FieldProblem("after", "use next_cursor from a previous page")],
        ) from exc


async def page(
    conn: AsyncConnection,
    *,
    after: str | None,
    limit: int,
    type_: str | None = None,
    subject: str | None = None,
) -> tuple[list[dict[str, Any]], str | None]:
    """Events after the cursor, oldest first, and the cursor to continue from (None when none came)."""
    last_id = decode_cursor(after)
    query = sa.select(outbox).where(outbox.c.id > last_id).order_by(outbox.c.id).limit(limit)
    if type_:
        query = query.where(outbox.c.type == type_)
    if subject:
        query = query.where(outbox.c.subject == subject)
    rows = [dict(r._mapping) for r in await conn.execute(query)]
    next_cursor = encode_cursor(rows[-1]["id"]) if rows else after
    return rows, next_cursor
