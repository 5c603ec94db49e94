"""SQL for settling a group of payment reports in one transaction: one statement per kind of row, so a
rush of notifications costs a handful of statements per group instead of a dozen per notification.

Locks are taken in one fixed order, payments then orders then sale events, each set ordered by id: two
groups (or a group and a single settlement, which locks in the same order) never wait on each other in
a cycle. Every function takes the caller's connection and must run inside its transaction."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from flashport.adapters.db import tallies_repo
from flashport.adapters.db.schema import identity_year_totals as totals
from flashport.adapters.db.schema import (
    order_lines,
    orders,
    payment_notifications,
    payments,
    sale_events,
    sale_items,
)
from flashport.domain.orders import OrderStatus
from flashport.domain.payments import PaymentStatus


async def lock_payments(conn: AsyncConnection, out_trade_nos: Sequence[str]) -> list[Any]:
    """The payment rows of these trades (those that exist), locked ``FOR UPDATE`` in id order."""
    if not out_trade_nos:
        return []
    query = (
        sa.select(payments)
        .where(payments.c.out_trade_no.in_(sorted(set(out_trade_nos))))
        .order_by(payments.c.id)
        .with_for_update()
    )
    return list((await conn.execute(query)).all())


async def lock_orders(conn: AsyncConnection, order_ids: Sequence[str]) -> list[Any]:
    """The whole order rows, locked ``FOR UPDATE`` in id order."""
    if not order_ids:
        return []
    query = (
        sa.select(orders)
        .where(orders.c.id.in_(sorted(set(order_ids))))
        .order_by(orders.c.id)
        .with_for_update()
    )
    return list((await conn.execute(query)).all())


async def share_lock_sale_states(conn: AsyncConnection, event_ids: Sequence[int]) -> dict[int, str]:
    """Each sale event's state under a share lock (``FOR SHARE``), in id order: cancelling a sale waits
    for the settlements in flight, and later settlements see it cancelled."""
    if not event_ids:
        return {}
    query = (
        sa.select(sale_events.c.id, sale_events.c.state)
        .where(sale_events.c.id.in_(sorted(set(event_ids))))
        .order_by(sale_events.c.id)
        .with_for_update(read=True)
    )
    return {int(row.id): str(row.state) for row in await conn.execute(query)}


async def events_of_lines(conn: AsyncConnection, order_ids: Sequence[str]) -> dict[str, set[int]]:
    """Per order of several lines (a checked-out basket), the sale events of all its lines: its own
    ``event_id`` is its first line's. One statement, made only when such an order is in the group."""
    if not order_ids:
        return {}
    query = (
        sa.select(order_lines.c.order_id, sale_items.c.event_id)
        .join(sale_items, sale_items.c.id == order_lines.c.sale_item_id)
        .where(order_lines.c.order_id.in_(sorted(set(order_ids))))
    )
    found: dict[str, set[int]] = {}
    for order_id, event_id in await conn.execute(query):
        found.setdefault(str(order_id), set()).add(int(event_id))
    return found


@dataclass(frozen=True)
class Succeeded:
    """A payment whose money was taken: what :func:`mark_succeeded_many` writes."""

    payment_id: int
    trade_no: str
    payer_name: str | None
    payer_id_cipher: str | None
    payer_id_masked: str | None
    paid_at: datetime


async def mark_succeeded_many(conn: AsyncConnection, rows: Sequence[Succeeded], now: datetime) -> None:
    """One executemany: each payment succeeded, with its trade and payer."""
    if not rows:
        return
    statement = (
        payments.update()
        .where(payments.c.id == sa.bindparam("b_id"))
        .values(
            status=PaymentStatus.SUCCEEDED.value,
            provider_trade_no=sa.bindparam("b_trade_no"),
            payer_name=sa.bindparam("b_payer_name"),
            payer_id_cipher=sa.bindparam("b_payer_id_cipher"),
            payer_id_masked=sa.bindparam("b_payer_id_masked"),
            paid_at=sa.bindparam("b_paid_at", type_=payments.c.paid_at.type),
            updated_at=sa.bindparam("b_now", type_=payments.c.updated_at.type),
        )
    )
    await conn.execute(
        statement,
        [
            {
                "b_id": r.payment_id,
                "b_trade_no": r.trade_no,
                "b_payer_name": r.payer_name,
                "b_payer_id_cipher": r.payer_id_cipher,
                "b_payer_id_masked": r.payer_id_masked,
                "b_paid_at": r.paid_at,
                "b_now": now,
            }
            for r in rows
        ],
    )


async def mark_paid_many(conn: AsyncConnection, paid: Sequence[tuple[str, datetime]]) -> None:
    """One executemany: each (order id, paid at) moves from pending payment to paid. The caller holds the
    rows' locks and judged them pending, so every row moves."""
    if not paid:
        return
    statement = (
        orders.update()
        .where(orders.c.id == sa.bindparam("b_id"), orders.c.status == OrderStatus.PENDING_PAYMENT.value)
        .values(status=OrderStatus.PAID.value, paid_at=sa.bindparam("b_paid_at", type_=orders.c.paid_at.type))
    )
    await conn.execute(statement, [{"b_id": order_id, "b_paid_at": at} for order_id, at in paid])
    await tallies_repo.add_paid(conn, [order_id for order_id, _ in paid])


async def reserve_quotas(
    conn: AsyncConnection,
    reservations: Sequence[tuple[str, int, int]],
    limit_fen: int,
    now: datetime,
) -> set[tuple[str, int]]:
    """Add each (identity hash, year, amount) to the identity's total of that year if it stays within
    ``limit_fen``, in one conditional upsert; returns the (hash, year) pairs that fit. Each pair may
    appear once (an upsert cannot touch one row twice): the caller reserves repeats one at a time."""
    fitting = [(h, y, a) for h, y, a in reservations if 0 <= a <= limit_fen]  # no WHERE on the INSERT branch
    if not fitting:
        return set()
    dialect_insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    insert = dialect_insert(totals).values(
        id_hash=sa.bindparam("b_hash"),
        year=sa.bindparam("b_year"),
        paid_fen=sa.bindparam("b_amount"),
        updated_at=sa.bindparam("b_now", type_=totals.c.updated_at.type),
    )
    statement = insert.on_conflict_do_update(
        index_elements=[totals.c.id_hash, totals.c.year],
        set_={
            "paid_fen": totals.c.paid_fen + insert.excluded.paid_fen,
            "updated_at": insert.excluded.updated_at,
        },
        where=totals.c.paid_fen + insert.excluded.paid_fen <= limit_fen,
    ).returning(totals.c.id_hash, totals.c.year)
    # An executemany with RETURNING: SQLAlchemy sends it as multi-row INSERTs ("insertmanyvalues") from
    # one cached compilation; a row whose WHERE fails returns nothing.
    params = [{"b_hash": h, "b_year": y, "b_amount": a, "b_now": now} for h, y, a in fitting]
    return {(str(row.id_hash), int(row.year)) for row in await conn.execute(statement, params)}


@dataclass(frozen=True)
class StoredNotification:
    fields: Mapping[str, str]  # as received, the payer's ID number already masked
    signature_valid: bool
    outcome: str
    reason: str


async def record_notifications(
    conn: AsyncConnection, notes: Sequence[StoredNotification], received_at: datetime
) -> None:
    """Every notification of the group, with what came of it, in one insert."""
    if not notes:
        return
    await conn.execute(
        payment_notifications.insert(),
        [
            {
                "provider": "alipay",
                "received_at": received_at,
                "notify_id": _cut(n.fields.get("notify_id"), 128),
                "out_trade_no": _cut(n.fields.get("out_trade_no"), 64),
                "trade_no": _cut(n.fields.get("trade_no"), 64),
                "trade_status": _cut(n.fields.get("trade_status"), 32),
                "params": dict(n.fields),
                "signature_valid": n.signature_valid,
                "outcome": n.outcome,
                "reason": n.reason,
            }
            for n in notes
        ],
    )


def _cut(value: str | None, length: int) -> str | None:
    """A notification's field cut to its column (anyone may post one; the whole is kept in params)."""
    return None if value is None else value[:length]
