"""After-sales rows: a return per order, moved forward only by conditional updates."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from flashport.adapters.db import declared_messages
from flashport.adapters.db.schema import declarations
from flashport.adapters.db.tracking_schema import aftersales as A
from flashport.domain.aftersales import AftersaleState


@dataclass(frozen=True)
class Aftersale:
    id: int
    order_id: str
    order_no: str
    buyer_id: int
    state: AftersaleState
    reason: str
    cop_no: str
    message_guid: str | None
    customs_status: int | None
    customs_info: str | None
    refund_id: int | None
    attempts: int
    last_error: str | None
    requested_at: datetime
    approved_at: datetime | None
    declared_at: datetime | None
    answered_at: datetime | None


_COLUMNS = [A.c[f.name] for f in fields(Aftersale)]


def _of(row: Any) -> Aftersale:
    values = dict(row._mapping)
    values["state"] = AftersaleState(values["state"])
    return Aftersale(**values)


async def insert(
    conn: AsyncConnection,
    order_id: str,
    order_no: str,
    buyer_id: int,
    reason: str,
    cop_no: str,
    now: datetime,
) -> int | None:
    """The new return's id; None when the order has one already."""
    exists = await conn.scalar(sa.select(A.c.id).where(A.c.order_id == order_id))
    if exists is not None:
        return None
    values = {
        "order_id": order_id,
        "order_no": order_no,
        "buyer_id": buyer_id,
        "state": AftersaleState.REQUESTED.value,
        "reason": reason,
        "cop_no": cop_no,
        "attempts": 0,
        "next_attempt_at": now,
        "requested_at": now,
        "updated_at": now,
    }
    return int((await conn.execute(A.insert().values(**values).returning(A.c.id))).scalar_one())


async def get(conn: AsyncConnection, aftersale_id: int) -> Aftersale | None:
    row = await declared_messages.row_where(conn, _COLUMNS, A.c.id == aftersale_id)
    return None if row is None else _of(row)


async def of_order(conn: AsyncConnection, order_id: str) -> Aftersale | None:
    row = await declared_messages.row_where(conn, _COLUMNS, A.c.order_id == order_id)
    return None if row is None else _of(row)


async def listed(conn: AsyncConnection, state: AftersaleState | None, limit: int) -> list[Aftersale]:
    query = sa.select(*_COLUMNS).order_by(A.c.id).limit(limit)
    if state is not None:
        query = query.where(A.c.state == state.value)
    return [_of(row) for row in await conn.execute(query)]


async def approve(conn: AsyncConnection, aftersale_id: int, operator_id: int, now: datetime) -> bool:
    moved = await conn.execute(
        A.update()
        .where(A.c.id == aftersale_id, A.c.state == AftersaleState.REQUESTED.value)
        .values(
            state=AftersaleState.APPROVED.value,
            approved_by=operator_id,
            approved_at=now,
            next_attempt_at=now,
            updated_at=now,
        )
    )
    return moved.rowcount == 1


async def lease_approved(conn: AsyncConnection, now: datetime, until: datetime, limit: int) -> list[int]:
    """Approved returns due to be declared, leased until ``until`` (others skip them meanwhile)."""
    return await declared_messages.lease(conn, A, AftersaleState.APPROVED.value, now, until, limit)


async def mark_declared(conn: AsyncConnection, aftersale_id: int, guid: str, now: datetime) -> bool:
    return await declared_messages.mark_declared(
        conn, A, aftersale_id, AftersaleState.APPROVED.value, AftersaleState.DECLARED.value, guid, now
    )


async def postpone(conn: AsyncConnection, aftersale_id: int, error: str, at: datetime, now: datetime) -> None:
    await declared_messages.postpone(conn, A, aftersale_id, error, at, now)


async def declared_by_guid_or_cop_no(
    conn: AsyncConnection, guid: str, cop_no: str | None
) -> Aftersale | None:
    """The declared return a CEB626 answers: by the head guid it echoes, else by copNo; locked."""
    row = await declared_messages.declared_by_guid_or_cop_no(
        conn, A, _COLUMNS, AftersaleState.DECLARED.value, guid, cop_no
    )
    return None if row is None else _of(row)


async def answer(
    conn: AsyncConnection,
    aftersale_id: int,
    state: AftersaleState,
    status: int,
    info: str,
    refund_id: int | None,
    now: datetime,
) -> bool:
    """declared -> ``state`` with customs' answer."""
    return await declared_messages.answer(
        conn,
        A,
        aftersale_id,
        was=AftersaleState.DECLARED.value,
        state=state.value,
        status=status,
        info=info,
        refund_id=refund_id,
        now=now,
    )


async def inventory_number(conn: AsyncConnection, order_no: str) -> str | None:
    """Customs' number of the order's inventory list (given when customs accepts it), which a return
    (CEB625) and a withdrawal (CEB623) name."""
    return await conn.scalar(sa.select(declarations.c.invt_no).where(declarations.c.order_no == order_no))


async def cancel_declaration(
    conn: AsyncConnection, order_no: str, cancellable: tuple[str, ...], now: datetime
) -> tuple[int, str] | None:
    """The order's declaration -> refunded if it is still in one of ``cancellable`` (its withdrawal
    due at once); (id, the state it left), or None when it was not (released meanwhile, say)."""
    row = (
        await conn.execute(
            sa.select(declarations.c.id, declarations.c.state).where(declarations.c.order_no == order_no)
        )
    ).first()
    if row is None or row.state not in cancellable:
        return None
    moved = await conn.execute(
        declarations.update()
        .where(declarations.c.id == row.id, declarations.c.state == row.state)
        .values(state="refunded", next_attempt_at=now, updated_at=now)
    )
    return (int(row.id), str(row.state)) if moved.rowcount == 1 else None


async def declaration_state(conn: AsyncConnection, order_no: str) -> str | None:
    return await conn.scalar(sa.select(declarations.c.state).where(declarations.c.order_no == order_no))
