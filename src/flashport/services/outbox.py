"""The outbox: a record of every state change (rule 9), appended in the transaction of the change it
describes, and read by operators and partners through a cursor, in commit order, so nothing is missed
and nothing is read twice. (Outbox records are not the sale events of :mod:`flashport.services.sales`.)"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from flashport.adapters.db import outbox_repo
from flashport.adapters.db.outbox_repo import NewRecord
from flashport.domain.errors import FieldProblem, InvalidInput


@dataclass(frozen=True)
class OutboxRecord:
    """One state change as readers see it."""

    id: int
    type: str  # e.g. order.paid
    subject: str  # what it is about, e.g. order:FP2611...
    occurred_at: datetime
    payload: dict[str, Any]


@dataclass(frozen=True)
class OutboxPage:
    items: list[OutboxRecord]
    next_cursor: str | None  # unchanged when the page is empty: ask again later from the same place
    has_more: bool  # the page is full, so more may follow at once


async def append(
    conn: AsyncConnection, type_: str, subject: str, payload: dict[str, Any], now: datetime
) -> None:
    """One record, in the caller's transaction."""
    await outbox_repo.append(conn, type_, subject, payload, now)


async def append_many(conn: AsyncConnection, records: Sequence[NewRecord], now: datetime) -> None:
    """Several records (type, subject, payload) in one statement, in the order given."""
    await outbox_repo.append_many(conn, records, now)


def encode_cursor(tx_seq: int | None, last_id: int) -> str:
    raw = f"o:{tx_seq if tx_seq is not None else ''}:{last_id}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> tuple[int, int]:
    """(tx_seq, id) of the last record read; (0, 0) before the first page."""
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


async def page(
    conn: AsyncConnection,
    *,
    after: str | None,
    limit: int,
    type_: str | None = None,
    subject: str | None = None,
) -> OutboxPage:
    """Records after the cursor, in commit order, and the cursor to continue from."""
    tx_seq, last_id = decode_cursor(after)
    stored = await outbox_repo.read_after(conn, tx_seq, last_id, limit=limit, type_=type_, subject=subject)
    if not stored:
        return OutboxPage([], after, has_more=False)
    items = [OutboxRecord(r.id, r.type, r.subject, r.occurred_at, r.payload) for r in stored]
    return OutboxPage(items, encode_cursor(stored[-1].tx_seq, stored[-1].id), has_more=len(stored) == limit)
