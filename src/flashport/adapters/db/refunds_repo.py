"""SQL for refunds: money to pay back, one row per trade, sent until the provider confirms.
Every function takes the caller's connection."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from flashport.adapters.db.schema import payments, refunds

PENDING, SUCCEEDED = "pending", "succeeded"


async def insert_once(conn: AsyncConnection, values: Mapping[str, Any]) -> int | None:
    """A new refund row, in a savepoint; None (and the caller's transaction intact) when one with the
    same ``out_request_no`` exists: the trade was already refunded for this reason."""
    try:
        async with conn.begin_nested():
            refund_id = await conn.scalar(refunds.insert().values(**values).returning(refunds.c.id))
    except IntegrityError:
        return None
    return int(refund_id)


async def exists_for_trade(conn: AsyncConnection, payment_id: int, provider_trade_no: str) -> bool:
    """Whether any refund of this payment's provider trade was recorded, whatever its reason or state
    (by the unique index's leading columns)."""
    query = sa.select(refunds.c.id).where(
        refunds.c.payment_id == payment_id, refunds.c.provider_trade_no == provider_trade_no
    )
    return await conn.scalar(query.limit(1)) is not None


async def with_trade(conn: AsyncConnection, refund_id: int) -> Any:
    """The refund row with its payment's ``out_trade_no`` and ``order_no``; None if there is none."""
    query = (
        sa.select(refunds, payments.c.out_trade_no, payments.c.order_no)
        .join(payments, payments.c.id == refunds.c.payment_id)
        .where(refunds.c.id == refund_id)
    )
    return (await conn.execute(query)).first()


async def mark_succeeded(conn: AsyncConnection, refund_id: int, attempts: int, now: datetime) -> bool:
    """Pending -> succeeded; False when it was no longer pending (another worker confirmed it)."""
    done = await conn.execute(
        refunds.update()
        .where(refunds.c.id == refund_id, refunds.c.status == PENDING)
        .values(status=SUCCEEDED, refunded_at=now, attempts=attempts)
    )
    return done.rowcount == 1


async def record_failure(
    conn: AsyncConnection, refund_id: int, attempts: int, error: str | None, next_attempt_at: datetime
) -> None:
    await conn.execute(
        refunds.update()
        .where(refunds.c.id == refund_id)
        .values(attempts=attempts, last_error=error, next_attempt_at=next_attempt_at)
    )


async def due(conn: AsyncConnection, now: datetime, limit: int) -> list[int]:
    """Up to ``limit`` pending refunds whose next attempt is due, most overdue first."""
    query = (
        sa.select(refunds.c.id)
        .where(refunds.c.status == PENDING, refunds.c.next_attempt_at <= now)
        .order_by(refunds.c.next_attempt_at)
        .limit(limit)
    )
    return list((await conn.scalars(query)).all())


async def of_payment(conn: AsyncConnection, payment_id: int) -> list[Any]:
    query = sa.select(refunds).where(refunds.c.payment_id == payment_id).order_by(refunds.c.id)
    return list((await conn.execute(query)).all())
