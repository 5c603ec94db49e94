"""The queue of notifications to send, kept in the sandbox's database.

The sender polls it rather than holding work in memory, so a restart resumes every delivery that was
neither acknowledged nor given up.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from flashport.sandbox_pay.database import SandboxDatabase
from flashport.sandbox_pay.tables import deliveries, delivery_attempts

ACKNOWLEDGEMENT = "success"  # the only answer that ends a delivery, as with Alipay


@dataclass(frozen=True)
class Delivery:
    id: int
    notify_id: str
    trade_no: str
    url: str
    params: dict[str, str]
    attempts: int


def is_acknowledged(status: int | None, body: str) -> bool:
    return status is not None and 200 <= status < 300 and body.strip() == ACKNOWLEDGEMENT


def queued_delivery(trade_no: str, url: str, params: Mapping[str, str], due: datetime) -> sa.Insert:
    """The statement that queues one notification; callers run it inside their own transaction."""
    return deliveries.insert().values(
        notify_id=params["notify_id"],
        trade_no=trade_no,
        notify_url=url,
        params=dict(params),
        created_at=due,
        attempts=0,
        next_attempt_at=due,
    )


def _delivery(row: sa.Row[Any]) -> Delivery:
    return Delivery(row.id, row.notify_id, row.trade_no, row.notify_url, dict(row.params), row.attempts)


class DeliveryQueue:
    def __init__(self, database: SandboxDatabase) -> None:
        self._db = database

    async def queue(self, trade_no: str, url: str, params: Mapping[str, str], due: datetime) -> None:
        async with self._db.engine.begin() as conn:
            await conn.execute(queued_delivery(trade_no, url, params, due))

    async def latest(self, trade_no: str) -> Delivery | None:
        query = sa.select(deliveries).where(deliveries.c.trade_no == trade_no)
        async with self._db.engine.begin() as conn:
            row = (await conn.execute(query.order_by(deliveries.c.id.desc()).limit(1))).first()
        return None if row is None else _delivery(row)

    async def claim_due(self, now: datetime, lease: timedelta) -> list[Delivery]:
        """The deliveries due now, each claimed for ``lease`` (its next attempt moved to the lease's end):
        two senders on one file (say, the demo in several API processes) never send the same attempt, and
        an attempt cut short by a crash is made again once its lease runs out."""
        query = sa.select(deliveries).where(deliveries.c.next_attempt_at <= now).order_by(deliveries.c.id)
        async with self._db.engine.begin() as conn:
            claimed = [_delivery(row) for row in await conn.execute(query)]
            if claimed:
                await conn.execute(
                    deliveries.update()
                    .where(deliveries.c.id.in_([delivery.id for delivery in claimed]))
                    .values(next_attempt_at=now + lease)
                )
        return claimed

    async def release(self, delivery_ids: set[int], due: datetime) -> None:
        """Give up the claims on deliveries whose attempts were cut short: due again at ``due``."""
        if delivery_ids:
            async with self._db.engine.begin() as conn:
                await conn.execute(
                    deliveries.update().where(deliveries.c.id.in_(delivery_ids)).values(next_attempt_at=due)
                )

    async def next_due_at(self) -> datetime | None:
        query = sa.select(sa.func.min(deliveries.c.next_attempt_at))
        async with self._db.engine.begin() as conn:
            due: datetime | None = (await conn.execute(query)).scalar()
        return due

    async def record_attempt(
        self, delivery: Delivery, at: datetime, status: int | None, body: str, retry_at: datetime | None
    ) -> None:
        """Write down one attempt. An acknowledged delivery is done; otherwise it is tried again at
        ``retry_at``, or never again when that is None (the schedule has run out)."""
        done = is_acknowledged(status, body)
        async with self._db.engine.begin() as conn:
            await conn.execute(
                delivery_attempts.insert().values(
                    delivery_id=delivery.id,
                    attempted_at=at,
                    status_code=status,
                    body=body[:500],
                    succeeded=done,
                )
            )
            await conn.execute(
                deliveries.update()
                .where(deliveries.c.id == delivery.id)
                .values(
                    attempts=deliveries.c.attempts + 1,
                    next_attempt_at=None if done else retry_at,
                    delivered_at=at if done else None,
                    last_status=status,
                    last_body=body[:500],
                )
            )

    async def history(self, trade_no: str) -> list[dict[str, Any]]:
        """Every delivery of the trade with each of its attempts, oldest first."""
        async with self._db.engine.begin() as conn:
            rows = (
                await conn.execute(
                    sa.select(deliveries).where(deliveries.c.trade_no == trade_no).order_by(deliveries.c.id)
                )
            ).all()
            attempts = (
                await conn.execute(
                    sa.select(delivery_attempts)
                    .where(delivery_attempts.c.delivery_id.in_([row.id for row in rows]))
                    .order_by(delivery_attempts.c.id)
                )
            ).all()
        return [_history_entry(row, [a for a in attempts if a.delivery_id == row.id]) for row in rows]


def _history_entry(row: sa.Row[Any], attempts: list[sa.Row[Any]]) -> dict[str, Any]:
    return {
        "notify_id": row.notify_id,
        "trade_status": row.params.get("trade_status"),
        "attempts": row.attempts,
        "delivered_at": row.delivered_at,
        "next_attempt_at": row.next_attempt_at,
        "last_status": row.last_status,
        "last_body": row.last_body,
        "attempt_log": [
            {"at": a.attempted_at, "status": a.status_code, "body": a.body, "succeeded": a.succeeded}
            for a in attempts
        ],
    }
