"""How much work waits for each worker stage, and how late partners are: counted for /metrics.

Each count reads an indexed column of the stage's own queue (the rows the stage would take next, due or
not); it is a gauge of the backlog, not a promise of what the next batch takes. Lags are the age of the
oldest thing not yet passed on, 0 when nothing waits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from flashport.adapters.db.partners_schema import relay_cursors, webhook_deliveries
from flashport.adapters.db.schema import declarations, orders, outbox, payments, refunds

ORD, D = orders.c, declarations.c
AWAITING_RECEIPTS = ("declared", "received", "matched", "under_review", "reviewed", "inspection")


@dataclass(frozen=True)
class Backlog:
    depths: dict[str, int]  # by worker stage name (worker.py STAGES)
    lags: dict[str, float]  # seconds, by what lags: partner_relay, webhook_delivery


def _count(where: Any, table: sa.Table) -> sa.ScalarSelect[Any]:
    return sa.select(sa.func.count()).select_from(table).where(where).scalar_subquery()


def _queries(now: datetime) -> dict[str, sa.ScalarSelect[Any]]:
    return {
        "expired": _count(sa.and_(ORD.status == "pending_payment", ORD.payment_deadline < now), orders),
        "releases_finished": _count(
            sa.and_(ORD.stock_released_at.is_(None), ORD.status.in_(("expired", "cancelled"))), orders
        ),
        "payments_rechecked": _count(payments.c.status == "pending", payments),
        "refunds_sent": _count(refunds.c.status == "pending", refunds),
        "declared": _count(D.state == "pending", declarations),
        "receipts_applied": _count(D.state.in_(AWAITING_RECEIPTS), declarations),
        "shipped": _count(D.state == "released", declarations),
        "declarations_withdrawn": _count(
            sa.and_(D.state == "refunded", D.withdrawn_at.is_(None)), declarations
        ),
        "flagged_for_attention": _count(D.attention_reason.is_not(None), declarations),
        "webhooks_sent": _count(webhook_deliveries.c.status == "pending", webhook_deliveries),
    }


async def measure(conn: AsyncConnection, now: datetime, relay_cursor: str) -> Backlog:
    """Every stage's backlog and the partner lags, in two statements."""
    queries = _queries(now)
    row = (await conn.execute(sa.select(*(q.label(name) for name, q in queries.items())))).one()
    relayed = (
        sa.select(sa.func.coalesce(sa.func.max(relay_cursors.c.last_id), 0))
        .where(relay_cursors.c.name == relay_cursor)
        .scalar_subquery()
    )
    oldest = (
        await conn.execute(
            sa.select(
                sa.select(sa.func.min(outbox.c.occurred_at)).where(outbox.c.id > relayed).scalar_subquery(),
                sa.select(sa.func.min(webhook_deliveries.c.created_at))
                .where(webhook_deliveries.c.status == "pending")
                .scalar_subquery(),
            )
        )
    ).one()
    lags = {
        name: 0.0 if at is None else max(0.0, (now - at).total_seconds())
        for name, at in zip(("partner_relay", "webhook_delivery"), oldest, strict=True)
    }
    return Backlog({name: int(row._mapping[name]) for name in queries}, lags)


async def ping(conn: AsyncConnection) -> None:
    """The cheapest round trip to the database (readiness)."""
    await conn.execute(sa.text("SELECT 1"))
