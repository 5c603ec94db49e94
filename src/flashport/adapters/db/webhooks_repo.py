"""SQL for webhook endpoints and their deliveries."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from flashport.adapters.db.partners_schema import (
    partner_events,
    webhook_deliveries,
    webhook_endpoints,
    webhook_queued_events,
)

E, D, Q = webhook_endpoints, webhook_deliveries, webhook_queued_events


async def insert_endpoint(
    conn: AsyncConnection,
    *,
    partner_id: int,
    url: str,
    event_types: list[str],
    secret: str,
    start_after: int,
    now: datetime,
) -> Any:
    return (
        await conn.execute(
            E.insert()
            .values(
                partner_id=partner_id,
                url=url,
                event_types=event_types,
                secret=secret,
                last_partner_event_id=start_after,
                created_at=now,
            )
            .returning(*E.c)
        )
    ).one()


async def newest_event_id(conn: AsyncConnection, partner_id: int) -> int:
    found = await conn.scalar(
        sa.select(sa.func.max(partner_events.c.id)).where(partner_events.c.partner_id == partner_id)
    )
    return int(found or 0)


async def endpoint(
    conn: AsyncConnection, partner_id: int | None, endpoint_id: int, *, lock: bool = False
) -> Any:
    query = sa.select(E).where(E.c.id == endpoint_id)
    if partner_id is not None:
        query = query.where(E.c.partner_id == partner_id)
    if lock:
        query = query.with_for_update()
    return (await conn.execute(query)).first()


async def endpoints_of(conn: AsyncConnection, partner_id: int) -> list[Any]:
    return list(await conn.execute(sa.select(E).where(E.c.partner_id == partner_id).order_by(E.c.id)))


async def update_endpoint(conn: AsyncConnection, endpoint_id: int, **values: Any) -> None:
    await conn.execute(E.update().where(E.c.id == endpoint_id).values(**values))


async def claim_endpoints_behind(conn: AsyncConnection, limit: int) -> list[Any]:
    """Enabled endpoints whose partner has events past their position, locked (skipping ones another
    worker holds) until the caller's transaction ends."""
    behind = sa.exists().where(
        partner_events.c.partner_id == E.c.partner_id, partner_events.c.id > E.c.last_partner_event_id
    )
    query = sa.select(E).where(E.c.disabled_at.is_(None), behind).order_by(E.c.id).limit(limit)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True, of=E)
    return list(await conn.execute(query))


async def events_after(conn: AsyncConnection, partner_id: int, after_id: int, limit: int) -> list[Any]:
    query = (
        sa.select(partner_events)
        .where(partner_events.c.partner_id == partner_id, partner_events.c.id > after_id)
        .order_by(partner_events.c.id)
        .limit(limit)
    )
    return list(await conn.execute(query))


async def events_since(
    conn: AsyncConnection, partner_id: int, since: datetime, until_id: int, limit: int
) -> list[Any]:
    query = (
        sa.select(partner_events)
        .where(
            partner_events.c.partner_id == partner_id,
            partner_events.c.occurred_at >= since,
            partner_events.c.id <= until_id,
        )
        .order_by(partner_events.c.id)
        .limit(limit)
    )
    return list(await conn.execute(query))


async def insert_deliveries(conn: AsyncConnection, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        await conn.execute(D.insert(), list(rows))


async def claim_due(conn: AsyncConnection, now: datetime, lease_until: datetime, limit: int) -> list[Any]:
    """Pending deliveries due now on enabled endpoints, with their endpoint's URL and secrets; each is
    leased (its next attempt moved to ``lease_until``) so no other worker sends it meanwhile, and a
    worker that dies mid-send leaves it to be sent again when the lease ends."""
    query = (
        sa.select(D.c.id)
        .join(E, E.c.id == D.c.endpoint_id)
        .where(D.c.status == "pending", D.c.next_attempt_at <= now, E.c.disabled_at.is_(None))
        .order_by(D.c.next_attempt_at, D.c.id)
        .limit(limit)
    )
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True, of=D)
    ids = [int(i) for i in (await conn.execute(query)).scalars()]
    if not ids:
        return []
    await conn.execute(
        D.update().where(D.c.id.in_(ids)).values(next_attempt_at=lease_until, attempts=D.c.attempts + 1)
    )
    return list(
        await conn.execute(
            sa.select(
                D,
                E.c.url,
                E.c.secret,
                E.c.previous_secret,
                E.c.previous_until,
                E.c.partner_id,
                E.c.failing_since,
            )
            .join(E, E.c.id == D.c.endpoint_id)
            .where(D.c.id.in_(ids))
            .order_by(D.c.id)
        )
    )


async def update_delivery(conn: AsyncConnection, delivery_id: int, **values: Any) -> None:
    await conn.execute(D.update().where(D.c.id == delivery_id).values(**values))


async def delivery(conn: AsyncConnection, partner_id: int | None, delivery_id: int) -> Any:
    query = sa.select(D, E.c.partner_id).join(E, E.c.id == D.c.endpoint_id).where(D.c.id == delivery_id)
    if partner_id is not None:
        query = query.where(E.c.partner_id == partner_id)
    return (await conn.execute(query)).first()


async def deliveries_of(conn: AsyncConnection, endpoint_id: int, limit: int) -> list[Any]:
    query = sa.select(D).where(D.c.endpoint_id == endpoint_id).order_by(D.c.id.desc()).limit(limit)
    return list(await conn.execute(query))


async def endpoints_of_partners(conn: AsyncConnection, partner_ids: set[int]) -> dict[int, list[Any]]:
    """Every endpoint of these partners, disabled ones too (their deliveries wait until enabled)."""
    found: dict[int, list[Any]] = {}
    if partner_ids:
        for row in await conn.execute(sa.select(E).where(E.c.partner_id.in_(sorted(partner_ids)))):
            found.setdefault(int(row.partner_id), []).append(row)
    return found


_MARK_QUEUED_PG = sa.text(
    "INSERT INTO webhook_queued_events (endpoint_id, partner_event_id, created_at)"
    " SELECT e, p, :now FROM unnest(CAST(:endpoints AS bigint[]), CAST(:events AS bigint[])) AS t(e, p)"
    " ON CONFLICT DO NOTHING RETURNING endpoint_id, partner_event_id"
).bindparams(sa.bindparam("now", type_=Q.c.created_at.type))


async def mark_queued(
    conn: AsyncConnection, pairs: Sequence[tuple[int, int]], now: datetime
) -> set[tuple[int, int]]:
    """Mark (endpoint, partner event) pairs as queued; returns the ones not marked before."""
    if not pairs:
        return set()
    if conn.dialect.name == "postgresql":
        # One statement of two arrays, compiled once: a multi-row VALUES of a thousand pairs was
        # compiled anew on every call, about a tenth of the worker's CPU in a rush through NATS.
        rows = await conn.execute(
            _MARK_QUEUED_PG,
            {"endpoints": [ep for ep, _ in pairs], "events": [ev for _, ev in pairs], "now": now},
        )
        return {(int(ep), int(ev)) for ep, ev in rows}
    fresh: set[tuple[int, int]] = set()
    for start in range(0, len(pairs), 500):  # SQLite binds at most a few thousand values at once
        chunk = pairs[start : start + 500]
        rows = await conn.execute(
            sqlite.insert(Q)
            .values([{"endpoint_id": ep, "partner_event_id": ev, "created_at": now} for ep, ev in chunk])
            .on_conflict_do_nothing()
            .returning(Q.c.endpoint_id, Q.c.partner_event_id)
        )
        fresh |= {(int(ep), int(ev)) for ep, ev in rows}
    return fresh
