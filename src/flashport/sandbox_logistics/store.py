"""Reads and writes of the sandbox carrier's record.

The service opens one transaction per request (:meth:`WaybillStore.transaction`) and does all its
reads and writes through the :class:`Records` it yields, so a waybill, its tracking event and the
CEB511 queued for it are written together or not at all.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from flashport.sandbox_logistics import rows
from flashport.sandbox_logistics.database import LogisticsDatabase
from flashport.sandbox_logistics.faults import Fault
from flashport.sandbox_logistics.tables import declarations, faults, feed_cursors, tracking_events, waybills
from flashport.sandbox_logistics.waybills import Declaration, DeclarationState, TrackingEvent, Waybill

PENDING = DeclarationState.PENDING.value

# The statements run for every waybill, built once: building one costs about twice running it.
_BY_ORDER_NO = sa.select(waybills).where(waybills.c.order_no == sa.bindparam("key"))
_BY_LOGISTICS_NO = sa.select(waybills).where(waybills.c.logistics_no == sa.bindparam("key"))
_ADD = waybills.insert()
_ADD_EVENT = tracking_events.insert()
_TAKE_FAULT = sa.delete(faults).where(faults.c.order_no == sa.bindparam("order_no")).returning(faults.c.fault)
_QUEUE = declarations.insert()
_PENDING = (
    sa.select(declarations)
    .where(declarations.c.logistics_no == sa.bindparam("logistics_no"), declarations.c.state == PENDING)
    .order_by(declarations.c.id)
)


class WaybillStore:
    def __init__(self, database: LogisticsDatabase) -> None:
        self._db = database

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[Records]:
        """One write transaction (BEGIN IMMEDIATE): committed if the block ends, rolled back if it raises."""
        async with self._db.engine.begin() as conn:
            yield Records(conn)


class Records:
    """The record as seen from inside one transaction."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    @property
    def conn(self) -> AsyncConnection:
        """The transaction's connection, for the carrier's other records (:mod:`.reports`)."""
        return self._conn

    async def by_order_no(self, order_no: str) -> Waybill | None:
        row = (await self._conn.execute(_BY_ORDER_NO, {"key": order_no})).first()
        return None if row is None else rows.waybill_of(row)

    async def by_logistics_no(self, logistics_no: str) -> Waybill | None:
        row = (await self._conn.execute(_BY_LOGISTICS_NO, {"key": logistics_no})).first()
        return None if row is None else rows.waybill_of(row)

    async def add(self, waybill: Waybill) -> None:
        await self._conn.execute(_ADD, rows.waybill_values(waybill))

    async def save(self, waybill: Waybill) -> None:
        values = rows.waybill_values(waybill)
        key = waybills.c.logistics_no == values.pop("logistics_no")
        await self._conn.execute(waybills.update().where(key).values(**values))

    async def add_event(self, logistics_no: str, event: TrackingEvent) -> None:
        values = {"at": event.at, "status": event.status.value, "description": event.description}
        await self._conn.execute(_ADD_EVENT, {"logistics_no": logistics_no, **values})

    async def events(self, logistics_no: str) -> list[TrackingEvent]:
        query = (
            sa.select(tracking_events)
            .where(tracking_events.c.logistics_no == logistics_no)
            .order_by(tracking_events.c.id)
        )
        return [rows.event_of(row) for row in await self._conn.execute(query)]

    async def set_fault(self, order_no: str, fault: Fault | None) -> None:
        """Plant ``fault`` in the order's next CEB511 (None: clear it)."""
        await self._conn.execute(faults.delete().where(faults.c.order_no == order_no))
        if fault is not None:
            await self._conn.execute(faults.insert().values(order_no=order_no, fault=fault.value))

    async def take_fault(self, order_no: str) -> Fault | None:
        """The fault planted for the order's next CEB511, removed as it is taken."""
        fault = (await self._conn.execute(_TAKE_FAULT, {"order_no": order_no})).scalar_one_or_none()
        return None if fault is None else Fault(fault)

    async def queue(self, logistics_no: str, app_type: str, message: bytes, at: datetime) -> None:
        """Queue a CEB511 for sending; it goes after every one queued before it for the same waybill."""
        values = {"app_type": app_type, "message": message, "state": PENDING, "created_at": at}
        await self._conn.execute(_QUEUE, {"logistics_no": logistics_no, **values})

    async def _declarations(self, condition: sa.ColumnElement[bool]) -> list[Declaration]:
        query = sa.select(declarations).where(condition).order_by(declarations.c.id)
        return [rows.declaration_of(row) for row in await self._conn.execute(query)]

    async def latest_declaration(self, logistics_no: str) -> Declaration | None:
        made = await self._declarations(declarations.c.logistics_no == logistics_no)
        return made[-1] if made else None

    async def pending(self, logistics_no: str) -> list[Declaration]:
        found = await self._conn.execute(_PENDING, {"logistics_no": logistics_no})
        return [rows.declaration_of(row) for row in found]

    async def with_pending(self) -> list[str]:
        """Waybills with a CEB511 still to send, oldest first."""
        query = (
            sa.select(declarations.c.logistics_no)
            .where(declarations.c.state == PENDING)
            .group_by(declarations.c.logistics_no)
            .order_by(sa.func.min(declarations.c.id))
        )
        return list((await self._conn.execute(query)).scalars())

    async def record_attempt(
        self,
        declaration: Declaration,
        state: DeclarationState,
        at: datetime,
        error: str | None = None,
        *,
        sent_in: str | None = None,
    ) -> None:
        """One attempt at sending: still pending (with why), sent (the waybill is declared at ``at``;
        ``sent_in``: the guid of the message it went in, which may carry other waybills too), or
        refused for good."""
        kept = {"sent_in": sent_in} if sent_in is not None else {}
        await self._conn.execute(
            declarations.update()
            .where(declarations.c.id == declaration.id)
            .values(
                state=state.value,
                attempts=declarations.c.attempts + 1,
                sent_at=at if state is DeclarationState.SENT else None,
                last_error=error,
                **kept,
            )
        )
        if state is DeclarationState.SENT:
            key = waybills.c.logistics_no == declaration.logistics_no
            await self._conn.execute(waybills.update().where(key).values(declared_at=at))

    async def feed_cursor(self, feed: str) -> str | None:
        """Where the carrier stopped in ``feed`` (None: at its start)."""
        return await self._conn.scalar(sa.select(feed_cursors.c.cursor).where(feed_cursors.c.feed == feed))

    async def move_feed_cursor(self, feed: str, cursor: str, now: datetime) -> None:
        moved = await self._conn.execute(
            feed_cursors.update().where(feed_cursors.c.feed == feed).values(cursor=cursor, updated_at=now)
        )
        if not moved.rowcount:
            await self._conn.execute(feed_cursors.insert().values(feed=feed, cursor=cursor, updated_at=now))
