"""Shipment milestones: written once each (a repeated report inserts nothing), read per order."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from flashport.adapters.db.schema import declarations
from flashport.adapters.db.tracking_schema import shipment_milestones as M
from flashport.domain.tracking import Milestone, MilestoneReached


async def add(
    conn: AsyncConnection,
    order_id: str,
    order_no: str,
    milestone: Milestone,
    at: datetime,
    source: str,
    now: datetime,
) -> bool:
    """Record the milestone; False when the shipment had reached it already (nothing changes)."""
    insert = (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(M)
    done = await conn.execute(
        insert.values(
            order_id=order_id,
            order_no=order_no,
            milestone=milestone.value,
            at=at,
            source=source,
            created_at=now,
        ).on_conflict_do_nothing(index_elements=[M.c.order_id, M.c.milestone])
    )
    return done.rowcount == 1


async def add_many(
    conn: AsyncConnection,
    order_nos: list[str],
    milestone: Milestone,
    at: datetime,
    source: str,
    now: datetime,
) -> list[tuple[str, str]]:
    """Record the milestone for the declared orders of ``order_nos`` in one statement; returns the
    (order_id, order_no) that reached it now (the others had already, or have no declaration)."""
    if not order_nos:
        return []
    shipments = (
        await conn.execute(
            sa.select(declarations.c.order_id, declarations.c.order_no)
            .where(declarations.c.order_no.in_(order_nos))
            .order_by(declarations.c.id)
        )
    ).all()
    if not shipments:
        return []
    rows = [
        {
            "order_id": s.order_id,
            "order_no": s.order_no,
            "milestone": milestone.value,
            "at": at,
            "source": source,
            "created_at": now,
        }
        for s in shipments
    ]
    # The rows as parameters of one cached statement, not in it (see stages_repo.insert_receipts).
    added = await conn.execute(_ADD_MANY[conn.dialect.name], rows)
    return [(r.order_id, r.order_no) for r in sorted(added, key=lambda r: r.id)]


def _add_many(dialect: Any) -> Any:
    return (
        dialect.insert(M)
        .on_conflict_do_nothing(index_elements=[M.c.order_id, M.c.milestone])
        .returning(M.c.id, M.c.order_id, M.c.order_no)
    )


_ADD_MANY = {"postgresql": _add_many(postgresql), "sqlite": _add_many(sqlite)}


async def of_order(conn: AsyncConnection, order_id: str) -> list[MilestoneReached]:
    rows = await conn.execute(
        sa.select(M.c.milestone, M.c.at).where(M.c.order_id == order_id).order_by(M.c.id)
    )
    return [MilestoneReached(Milestone(r.milestone), r.at) for r in rows]


async def shipment_of_waybill(conn: AsyncConnection, logistics_no: str) -> tuple[str, str, str | None] | None:
    """(order_id, order_no, logistics_code) of the declaration carrying this waybill, if any."""
    row = (
        await conn.execute(
            sa.select(declarations.c.order_id, declarations.c.order_no, declarations.c.logistics_code).where(
                declarations.c.logistics_no == logistics_no
            )
        )
    ).first()
    return (row.order_id, row.order_no, row.logistics_code) if row else None
