"""Reads and writes of the sandbox's trades and what hangs off them: the buyer a trade is for, refunds,
customs declarations and the customs faults injected for tests.

A state change and the notification it causes are written in one transaction, so a crash never loses
a queued notification nor sends one for a change that did not happen.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from flashport.sandbox_pay.database import SandboxDatabase
from flashport.sandbox_pay.delivery_queue import queued_delivery
from flashport.sandbox_pay.tables import (
    customs_declarations,
    customs_faults,
    feed_cursors,
    refund_refusals,
    refunds,
    specified_buyers,
    trades,
)
from flashport.sandbox_pay.trades import Refund, SpecifiedBuyer, Trade, TradeStatus

# Given the trade and its refunds so far: the refund to answer with, and the trade after it.
RefundDecision = Callable[[Trade, list[Refund]], tuple[Refund, Trade]]


@dataclass(frozen=True)
class DeclarationRecord:
    """One ``alipay.trade.customs.declare`` request the sandbox carried out: the payment voucher (CEB411)
    it sent to customs for it, and what it answered."""

    trade_no: str
    out_request_no: str
    declare_no: str
    order_no: str
    amount_fen: int
    app_type: str
    identity_check: str | None
    message: bytes
    sent_at: datetime


def _trade(row: sa.Row[Any]) -> Trade:
    values = dict(row._mapping)
    return Trade(**{**values, "status": TradeStatus(values["status"])})


def _values(trade: Trade) -> dict[str, Any]:
    return {**asdict(trade), "status": trade.status.value}


class TradeStore:
    def __init__(self, database: SandboxDatabase) -> None:
        self._db = database

    async def _one(self, condition: sa.ColumnElement[bool]) -> Trade | None:
        async with self._db.engine.begin() as conn:
            row = (await conn.execute(sa.select(trades).where(condition))).first()
        return None if row is None else _trade(row)

    async def find(self, app_id: str, *, out_trade_no: str | None, trade_no: str | None) -> Trade | None:
        """By the platform's number or ours; when both are given, they must name the same trade."""
        if not (out_trade_no or trade_no):
            return None
        condition = trades.c.app_id == app_id
        if out_trade_no:
            condition &= trades.c.out_trade_no == out_trade_no
        if trade_no:
            condition &= trades.c.trade_no == trade_no
        return await self._one(condition)

    async def by_trade_no(self, trade_no: str) -> Trade | None:
        return await self._one(trades.c.trade_no == trade_no)

    async def create(self, trade: Trade, buyer: SpecifiedBuyer | None) -> tuple[Trade, SpecifiedBuyer | None]:
        """Record ``trade`` with the buyer it is for, or return the trade already recorded under its
        ``out_trade_no`` and the buyer that one is for."""
        key = (trades.c.app_id == trade.app_id) & (trades.c.out_trade_no == trade.out_trade_no)
        async with self._db.engine.begin() as conn:
            existing = (await conn.execute(sa.select(trades).where(key))).first()
            if existing is not None:
                return _trade(existing), await _specified_buyer(conn, existing.trade_no)
            await conn.execute(trades.insert().values(**_values(trade)))
            if buyer is not None:
                await conn.execute(
                    specified_buyers.insert().values(
                        trade_no=trade.trade_no, name=buyer.name, cert_no=buyer.cert_no
                    )
                )
        return trade, buyer

    async def specified_buyer(self, trade_no: str) -> SpecifiedBuyer | None:
        """The only person who may pay the trade; None: anyone may."""
        async with self._db.engine.begin() as conn:
            return await _specified_buyer(conn, trade_no)

    async def transition(
        self, before: Trade, after: Trade, notification: Mapping[str, str] | None, at: datetime
    ) -> bool:
        """Move the trade from ``before.status`` to ``after`` and queue ``notification`` (due at ``at``),
        both or neither. False when the trade had already left ``before.status``."""
        async with self._db.engine.begin() as conn:
            moved = await conn.execute(
                trades.update()
                .where(trades.c.trade_no == before.trade_no, trades.c.status == before.status.value)
                .values(**_values(after))
            )
            if moved.rowcount != 1:
                return False
            if notification is not None and after.notify_url:
                await conn.execute(queued_delivery(before.trade_no, after.notify_url, notification, at))
        return True

    async def refunds(self, trade_no: str) -> list[Refund]:
        query = sa.select(refunds).where(refunds.c.trade_no == trade_no).order_by(refunds.c.id)
        async with self._db.engine.begin() as conn:
            return _running_totals((await conn.execute(query)).all())

    async def refund(self, trade_no: str, decide: RefundDecision) -> tuple[Trade, Refund, bool]:
        """Run ``decide`` on the trade and its refunds so far, inside the write transaction (so concurrent
        refunds, even from several processes, are judged one after another), and record its answer: a
        new refund, with the trade as it stands after it. Returns that trade, the refund, and whether it
        is new (False: ``decide`` returned an earlier refund, a repeated request). ``decide`` raising
        leaves everything as it was."""
        async with self._db.engine.begin() as conn:
            row = (await conn.execute(sa.select(trades).where(trades.c.trade_no == trade_no))).one()
            trade = _trade(row)
            query = sa.select(refunds).where(refunds.c.trade_no == trade_no).order_by(refunds.c.id)
            earlier = _running_totals((await conn.execute(query)).all())
            refund, after = decide(trade, earlier)
            if refund in earlier:
                return trade, refund, False
            await conn.execute(
                refunds.insert().values(
                    trade_no=trade_no,
                    out_request_no=refund.out_request_no,
                    refund_fen=refund.refund_fen,
                    reason=refund.reason,
                    created_at=refund.created_at,
                )
            )
            if after != trade:
                await conn.execute(
                    trades.update().where(trades.c.trade_no == trade_no).values(**_values(after))
                )
        return after, refund, True

    async def declarations(self, trade_no: str) -> list[DeclarationRecord]:
        """The trade's declarations, oldest first."""
        query = (
            sa.select(customs_declarations)
            .where(customs_declarations.c.trade_no == trade_no)
            .order_by(customs_declarations.c.id)
        )
        async with self._db.engine.begin() as conn:
            rows = (await conn.execute(query)).all()
        return [DeclarationRecord(**{k: v for k, v in row._mapping.items() if k != "id"}) for row in rows]

    async def record_declaration(self, record: DeclarationRecord) -> None:
        """Raises ``sqlalchemy.exc.IntegrityError`` if the trade already has this ``out_request_no``."""
        async with self._db.engine.begin() as conn:
            await conn.execute(customs_declarations.insert().values(**asdict(record)))

    async def customs_fault(self, trade_no: str) -> str | None:
        query = sa.select(customs_faults.c.fault).where(customs_faults.c.trade_no == trade_no)
        async with self._db.engine.begin() as conn:
            fault: str | None = (await conn.execute(query)).scalar_one_or_none()
        return fault

    async def set_customs_fault(self, trade_no: str, fault: str | None) -> None:
        """From now on the trade's payment vouchers carry ``fault``; None makes them right again."""
        async with self._db.engine.begin() as conn:
            await conn.execute(customs_faults.delete().where(customs_faults.c.trade_no == trade_no))
            if fault is not None:
                await conn.execute(customs_faults.insert().values(trade_no=trade_no, fault=fault))


class FeedRecord:
    """The payment company's own record of its partner feed: where it stopped, and the refunds it
    could not make. Each call is a transaction of its own."""

    def __init__(self, database: SandboxDatabase) -> None:
        self._db = database

    async def cursor(self, feed: str) -> str | None:
        """Where the payment company stopped in ``feed`` (None: at its start)."""
        query = sa.select(feed_cursors.c.cursor).where(feed_cursors.c.feed == feed)
        async with self._db.engine.begin() as conn:
            cursor: str | None = await conn.scalar(query)
        return cursor

    async def move_cursor(self, feed: str, read_from: str | None, to: str, now: datetime) -> bool:
        """``read_from`` -> ``to``; False (nothing moved) when another consumer moved it meanwhile."""
        async with self._db.engine.begin() as conn:
            stored = await conn.scalar(sa.select(feed_cursors.c.cursor).where(feed_cursors.c.feed == feed))
            if stored != read_from:
                return False
            moved = await conn.execute(
                feed_cursors.update().where(feed_cursors.c.feed == feed).values(cursor=to, updated_at=now)
            )
            if not moved.rowcount:
                await conn.execute(feed_cursors.insert().values(feed=feed, cursor=to, updated_at=now))
        return True

    async def refuse(
        self, out_request_no: str, trade_no: str, sub_code: str, sub_msg: str, at: datetime
    ) -> None:
        """Keep why a refund could not be made; the first reason stays (a replayed event repeats it)."""
        async with self._db.engine.begin() as conn:
            known = sa.select(refund_refusals.c.out_request_no).where(
                refund_refusals.c.out_request_no == out_request_no
            )
            if await conn.scalar(known) is None:
                await conn.execute(
                    refund_refusals.insert().values(
                        out_request_no=out_request_no,
                        trade_no=trade_no[:64],
                        sub_code=sub_code[:64],
                        sub_msg=sub_msg[:256],
                        created_at=at,
                    )
                )

    async def refusal(self, out_request_no: str) -> tuple[str, str] | None:
        """(sub_code, sub_msg) of a refund that could not be made; None if none was refused."""
        query = sa.select(refund_refusals.c.sub_code, refund_refusals.c.sub_msg).where(
            refund_refusals.c.out_request_no == out_request_no
        )
        async with self._db.engine.begin() as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else (str(row.sub_code), str(row.sub_msg))


async def _specified_buyer(conn: AsyncConnection, trade_no: str) -> SpecifiedBuyer | None:
    query = sa.select(specified_buyers).where(specified_buyers.c.trade_no == trade_no)
    row = (await conn.execute(query)).first()
    return None if row is None else SpecifiedBuyer(row.name, row.cert_no)


def _running_totals(rows: Sequence[sa.Row[Any]]) -> list[Refund]:
    running, result = 0, []
    for row in rows:
        running += row.refund_fen
        result.append(Refund(row.out_request_no, row.refund_fen, row.reason, row.created_at, running))
    return result
