"""Cancellations that withdraw an accepted inventory list (CEB623): one row per order, moved forward
only by conditional updates."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from flashport.adapters.db import declared_messages
from flashport.adapters.db.schema import declarations
from flashport.adapters.db.tracking_schema import cancellations as C
from flashport.domain.aftersales import CancellationState


@dataclass(frozen=True)
class Cancellation:
    id: int
    order_id: str
    order_no: str
    buyer_id: int
    state: CancellationState
    cop_no: str
    invt_no: str | None
    message_guid: str | None
    customs_status: int | None
    customs_info: str | None
    refund_id: int | None
    attempts: int
    last_error: str | None
    requested_at: datetime
    declared_at: datetime | None
    answered_at: datetime | None


_COLUMNS = [C.c[f.name] for f in fields(Cancellation)]


def _of(row: Any) -> Cancellation:
    values = dict(row._mapping)
    values["state"] = CancellationState(values["state"])
    return Cancellation(**values)


async def lock_declaration_state(conn: AsyncConnection, order_no: str) -> str | None:
    """The state of the order's declaration, locked for the transaction (PostgreSQL; SQLite has one
    writer), so a receipt cannot move it between this read and the caller's write."""
    query = sa.select(declarations.c.state).where(declarations.c.order_no == order_no)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    return await conn.scalar(query)


async def request(
    conn: AsyncConnection, order_id: str, order_no: str, buyer_id: int, cop_no: str, now: datetime
) -> int | None:
    """The order's cancellation, new or asked for again after a refusal; None when one is open or done."""
    found = (await conn.execute(sa.select(C.c.id, C.c.state).where(C.c.order_id == order_id))).first()
    values = {
        "state": CancellationState.REQUESTED.value,
        "cop_no": cop_no,
        "message_guid": None,
        "customs_status": None,
        "customs_info": None,
        "attempts": 0,
        "last_error": None,
        "next_attempt_at": now,
        "requested_at": now,
        "declared_at": None,
        "answered_at": None,
        "updated_at": now,
    }
    if found is None:
        inserted = await conn.execute(
            C.insert()
            .values(order_id=order_id, order_no=order_no, buyer_id=buyer_id, **values)
            .returning(C.c.id)
        )
        return int(inserted.scalar_one())
    if found.state != CancellationState.REFUSED.value:
        return None  # open or withdrawn: left alone (and not waited on while a receipt holds it)
    again = await conn.execute(
        C.update().where(C.c.id == found.id, C.c.state == CancellationState.REFUSED.value).values(**values)
    )
    return int(found.id) if again.rowcount == 1 else None


async def get(conn: AsyncConnection, cancellation_id: int) -> Cancellation | None:
    row = await declared_messages.row_where(conn, _COLUMNS, C.c.id == cancellation_id)
    return None if row is None else _of(row)


async def of_order(conn: AsyncConnection, order_id: str) -> Cancellation | None:
    row = await declared_messages.row_where(conn, _COLUMNS, C.c.order_id == order_id)
    return None if row is None else _of(row)


async def lease_requested(conn: AsyncConnection, now: datetime, until: datetime, limit: int) -> list[int]:
    """Requested cancellations due to be declared, leased until ``until`` (others skip them meanwhile)."""
    return await declared_messages.lease(conn, C, CancellationState.REQUESTED.value, now, until, limit)


async def mark_declared(
    conn: AsyncConnection, cancellation_id: int, invt_no: str, guid: str, now: datetime
) -> bool:
    return await declared_messages.mark_declared(
        conn,
        C,
        cancellation_id,
        CancellationState.REQUESTED.value,
        CancellationState.DECLARED.value,
        guid,
        now,
        invt_no=invt_no,
    )


async def postpone(
    conn: AsyncConnection, cancellation_id: int, error: str, at: datetime, now: datetime
) -> None:
    await declared_messages.postpone(conn, C, cancellation_id, error, at, now)


async def declared_by_guid_or_cop_no(
    conn: AsyncConnection, guid: str, cop_no: str | None
) -> Cancellation | None:
    """The declared cancellation a CEB624 answers: by the head guid it echoes, else by copNo; locked."""
    row = await declared_messages.declared_by_guid_or_cop_no(
        conn, C, _COLUMNS, CancellationState.DECLARED.value, guid, cop_no
    )
    return None if row is None else _of(row)


async def answer(
    conn: AsyncConnection,
    cancellation_id: int,
    *,
    was: CancellationState,
    state: CancellationState,
    status: int | None,
    info: str,
    refund_id: int | None,
    now: datetime,
) -> bool:
    """``was`` -> ``state`` with customs' answer (or the platform's reason, ``status`` None)."""
    return await declared_messages.answer(
        conn,
        C,
        cancellation_id,
        was=was.value,
        state=state.value,
        status=status,
        info=info,
        refund_id=refund_id,
        now=now,
    )


async def withdrawn_by_ceb623(conn: AsyncConnection, order_no: str) -> bool:
    """Whether customs withdrew the order's inventory list on a CEB623 (it is then no longer on file:
    no appType 3 deletion of it is to be sent)."""
    found = await conn.scalar(
        sa.select(C.c.id).where(C.c.order_no == order_no, C.c.state == CancellationState.WITHDRAWN.value)
    )
    return found is not None
