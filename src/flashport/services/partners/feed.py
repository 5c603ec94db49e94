"""A partner's pull feed: its events in commit order, from any point, with a cursor. The feed is the
source of truth; webhooks push the same events. Nothing prunes ``partner_events``, so a partner can
replay from the start (at least the 30 days promised)."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from flashport.adapters.db import partner_events_repo as repo
from flashport.domain.errors import FieldProblem, InvalidInput


@dataclass(frozen=True)
class FeedEvent:
    """One event as the partner receives it: thin data and a link to the scoped resource."""

    id: str  # stable event id: evt_<partner event id>, the same in the feed and in webhooks
    type: str
    subject: str
    subject_seq: int  # 1, 2, 3... per subject for this partner: a receiver can order and spot gaps
    occurred_at: datetime
    data: dict[str, Any]
    link: str | None


@dataclass(frozen=True)
class FeedPage:
    items: list[FeedEvent]
    next_cursor: str | None  # unchanged when the page is empty: ask again later from the same place
    has_more: bool


def event_id(partner_event_id: int) -> str:
    return f"evt_{partner_event_id}"


def to_feed_event(stored: repo.StoredEvent) -> FeedEvent:
    return FeedEvent(
        event_id(stored.id),
        stored.type,
        stored.subject,
        stored.subject_seq,
        stored.occurred_at,
        stored.data,
        stored.link,
    )


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(f"p:{last_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        prefix, last = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode().split(":")
        if prefix != "p":
            raise ValueError(prefix)
        return int(last)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput(
            "cursor is not one this API gave out",
            code="invalid_cursor",
            details=[FieldProblem("after", "use next_cursor from a previous page")],
        ) from exc


async def page(
    conn: AsyncConnection,
    partner_id: int,
    *,
    after: str | None,
    since: datetime | None = None,
    limit: int,
    types: list[str] | None = None,
) -> FeedPage:
    """Events after the cursor (or from ``since`` when no cursor is given), oldest first."""
    last_id = decode_cursor(after)
    if not after and since is not None:
        last_id = await repo.first_id_since(conn, partner_id, since)
    stored = await repo.read_after(conn, partner_id, last_id, limit=limit, types=types or ())
    if not stored:
        return FeedPage([], after or (encode_cursor(last_id) if last_id else None), has_more=False)
    return FeedPage(
        [to_feed_event(s) for s in stored], encode_cursor(stored[-1].id), has_more=len(stored) == limit
    )
