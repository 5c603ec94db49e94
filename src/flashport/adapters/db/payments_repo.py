"""SQL for payments: the payment rows of orders, the provider's notifications, and every exchange with
the provider. Every function takes the caller's connection; one whose name says ``lock`` must be called
inside a transaction."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from flashport.adapters.db.schema import payment_exchanges, payment_notifications, payments, sale_events
from flashport.adapters.payments.interface import Exchange
from flashport.domain.payments import PaymentStatus


async def any_for_order(conn: AsyncConnection, order_id: str) -> bool:
    """Whether a payment of the order exists (in any state)."""
    query = sa.select(payments.c.id).where(payments.c.order_id == order_id).limit(1)
    return await conn.scalar(query) is not None


async def of_order(conn: AsyncConnection, order_id: str) -> list[Any]:
    """The order's payment rows, latest attempt first."""
    query = sa.select(payments).where(payments.c.order_id == order_id).order_by(payments.c.attempt.desc())
    return list((await conn.execute(query)).all())


async def insert(conn: AsyncConnection, values: Mapping[str, Any]) -> int | None:
    """A new payment row; its id, or None when another transaction made this order's attempt (or
    ``out_trade_no``) first. A refused insert aborts the transaction: the caller starts a new one."""
    try:
        payment_id = await conn.scalar(payments.insert().values(**values).returning(payments.c.id))
    except IntegrityError:
        return None
    return int(payment_id)


async def lock_by_out_trade_no(conn: AsyncConnection, out_trade_no: str) -> Any:
    """The whole payment row, locked (``FOR UPDATE``); None for a trade that is not ours."""
    query = sa.select(payments).where(payments.c.out_trade_no == out_trade_no).with_for_update()
    return (await conn.execute(query)).first()


async def share_lock_sale_state(conn: AsyncConnection, event_id: int) -> str | None:
    """The state of the order's sale event under a share lock (``FOR SHARE``): cancelling the sale, which
    locks the event exclusively, waits for the settlements in flight, and later settlements see it
    cancelled."""
    query = sa.select(sale_events.c.state).where(sale_events.c.id == event_id).with_for_update(read=True)
    return await conn.scalar(query)


async def close(conn: AsyncConnection, payment_id: int, now: datetime) -> None:
    await conn.execute(
        payments.update()
        .where(payments.c.id == payment_id)
        .values(status=PaymentStatus.CLOSED.value, updated_at=now)
    )


async def mark_succeeded(
    conn: AsyncConnection,
    payment_id: int,
    *,
    trade_no: str,
    payer_name: str | None,
    payer_id_cipher: str | None,
    payer_id_masked: str | None,
    paid_at: datetime,
    now: datetime,
) -> None:
    """Record that the money was taken under this payment (even if it has to go back)."""
    await conn.execute(
        payments.update()
        .where(payments.c.id == payment_id)
        .values(
            status=PaymentStatus.SUCCEEDED.value,
            provider_trade_no=trade_no,
            payer_name=payer_name,
            payer_id_cipher=payer_id_cipher,
            payer_id_masked=payer_id_masked,
            paid_at=paid_at,
            updated_at=now,
        )
    )


async def pending_due_for_recheck(conn: AsyncConnection, due: datetime, limit: int) -> list[Any]:
    """Up to ``limit`` payments pending since before ``due`` and not asked about since then, oldest
    first: (id, out_trade_no)."""
    query = (
        sa.select(payments.c.id, payments.c.out_trade_no)
        .where(
            payments.c.status == PaymentStatus.PENDING.value,
            payments.c.created_at <= due,
            sa.or_(payments.c.checked_at.is_(None), payments.c.checked_at <= due),
        )
        .order_by(payments.c.created_at)
        .limit(limit)
    )
    return list((await conn.execute(query)).all())


async def mark_checked(conn: AsyncConnection, payment_id: int, now: datetime) -> None:
    await conn.execute(payments.update().where(payments.c.id == payment_id).values(checked_at=now))


async def listed(conn: AsyncConnection, *, status: str | None, order_no: str | None, limit: int) -> list[Any]:
    """Payment rows, newest first, of one status and one order if given."""
    query = sa.select(payments).order_by(payments.c.id.desc()).limit(limit)
    if status:
        query = query.where(payments.c.status == status)
    if order_no:
        query = query.where(payments.c.order_no == order_no)
    return list((await conn.execute(query)).all())


async def get(conn: AsyncConnection, payment_id: int) -> Any:
    return (await conn.execute(sa.select(payments).where(payments.c.id == payment_id))).first()


async def record_notification(
    conn: AsyncConnection,
    fields: Mapping[str, str],
    *,
    received_at: datetime,
    signature_valid: bool,
    outcome: str,
    reason: str,
) -> None:
    """Store one notification as received (the payer's ID number already masked) and what came of it."""
    await conn.execute(
        payment_notifications.insert().values(
            provider="alipay",
            received_at=received_at,
            notify_id=_cut(fields.get("notify_id"), 128),
            out_trade_no=_cut(fields.get("out_trade_no"), 64),
            trade_no=_cut(fields.get("trade_no"), 64),
            trade_status=_cut(fields.get("trade_status"), 32),
            params=dict(fields),
            signature_valid=signature_valid,
            outcome=outcome,
            reason=reason,
        )
    )


async def notifications_of(conn: AsyncConnection, out_trade_no: str) -> list[Any]:
    """Every notification received for one trade, in order of arrival."""
    query = (
        sa.select(payment_notifications)
        .where(payment_notifications.c.out_trade_no == out_trade_no)
        .order_by(payment_notifications.c.id)
    )
    return list((await conn.execute(query)).all())


async def record_exchange(
    conn: AsyncConnection, payment_id: int | None, exchange: Exchange, now: datetime
) -> None:
    """Store one request to the provider (or a partner) and its answer, for audits."""
    await conn.execute(
        payment_exchanges.insert().values(
            payment_id=payment_id,
            kind=exchange.kind,
            request=exchange.request,
            status_code=exchange.status_code,
            response=exchange.response,
            verified=exchange.verified,
            created_at=now,
        )
    )


async def record_exchanges(
    conn: AsyncConnection, exchanges: Sequence[tuple[int | None, Exchange]], now: datetime
) -> None:
    """:func:`record_exchange` for many (payment id, exchange) pairs, in one statement."""
    if not exchanges:
        return
    await conn.execute(
        payment_exchanges.insert(),
        [
            {
                "payment_id": payment_id,
                "kind": exchange.kind,
                "request": exchange.request,
                "status_code": exchange.status_code,
                "response": exchange.response,
                "verified": exchange.verified,
                "created_at": now,
            }
            for payment_id, exchange in exchanges
        ],
    )


def _cut(value: str | None, length: int) -> str | None:
    """A notification's field cut to its column (anyone may post one; the whole is kept in params)."""
    return None if value is None else value[:length]
