"""SQL for customs declarations: the worker's queue (the table itself), its steps, and the moves between
states. Every function works in the caller's connection; every move is a conditional update on the
state (or version) the caller saw, so of two workers racing only one moves a declaration, and the
function says whether this caller did."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from flashport.adapters.db.schema import declarations, orders
from flashport.ceb.codes import TradeMode
from flashport.domain.declarations import DeclarationState
from flashport.domain.identity import Consignee

D = declarations.c


@dataclass(frozen=True)
class Declaration:
    """One order's declaration, as stored. ``*_version`` columns say for which version each of the four
    documents is done; the documents are complete when all four equal ``version``."""

    id: int
    order_id: str
    order_no: str
    trade_mode: TradeMode
    state: DeclarationState
    version: int
    order_sent_version: int
    payment_declared_version: int
    waybill_version: int
    inventory_sent_version: int
    cop_no: str
    payment_declare_no: str | None
    logistics_no: str | None
    logistics_code: str | None
    logistics_name: str | None
    bill_no: str | None
    traf_no: str | None
    voyage_no: str | None
    reason_code: str | None
    reason: str | None
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    refund_after: datetime | None
    released_at: datetime | None
    shipped_at: datetime | None
    withdrawn_at: datetime | None
    attention_reason: str | None  # set while it is on the operator's worklist
    attention_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @property
    def documents_complete(self) -> bool:
        done = (
            self.order_sent_version,
            self.payment_declared_version,
            self.waybill_version,
            self.inventory_sent_version,
        )
        return min(done) >= self.version


@dataclass(frozen=True)
class Due:
    """A pending declaration whose next attempt is due, and the ``next_attempt_at`` seen (its claim)."""

    id: int
    next_attempt_at: datetime


@dataclass(frozen=True)
class WaybillFacts:
    """What the carrier's waybill adds to a declaration."""

    logistics_no: str
    logistics_code: str
    logistics_name: str
    bill_no: str | None
    traf_no: str | None
    voyage_no: str | None


# The columns a Declaration holds, named: a column added to the table later does not break reading.
_COLUMNS = [declarations.c[f.name] for f in fields(Declaration)]


def _declaration(m: sa.RowMapping) -> Declaration:
    values: dict[str, Any] = dict(m)
    values["trade_mode"] = TradeMode(values["trade_mode"])
    values["state"] = DeclarationState(values["state"])
    return Declaration(**values)


async def _one(conn: AsyncConnection, query: sa.Select[Any]) -> Declaration | None:
    row = (await conn.execute(query)).first()
    return None if row is None else _declaration(row._mapping)


# --- reading -----------------------------------------------------------------------------------------


async def get(conn: AsyncConnection, declaration_id: int, *, for_update: bool = False) -> Declaration:
    """The declaration (it must exist); ``for_update`` locks its row until the transaction ends."""
    query = sa.select(*_COLUMNS).where(D.id == declaration_id)
    found = await _one(conn, query.with_for_update() if for_update else query)
    if found is None:
        raise LookupError(f"declaration {declaration_id} does not exist")
    return found


async def get_many(conn: AsyncConnection, ids: list[int], *, for_update: bool = False) -> list[Declaration]:
    """The declarations of ``ids`` that exist, by id; ``for_update`` locks them (in id order, so two
    callers locking overlapping sets never deadlock)."""
    if not ids:
        return []
    query = sa.select(*_COLUMNS).where(D.id.in_(ids)).order_by(D.id)
    rows = await conn.execute(query.with_for_update() if for_update else query)
    return [_declaration(row._mapping) for row in rows]


async def find_by_order_no(conn: AsyncConnection, order_no: str) -> Declaration | None:
    return await _one(conn, sa.select(*_COLUMNS).where(D.order_no == order_no))


async def due_pending(conn: AsyncConnection, now: datetime, limit: int) -> list[Due]:
    """Pending declarations due by ``now``, longest waiting first."""
    rows = await conn.execute(
        sa.select(D.id, D.next_attempt_at)
        .where(D.state == DeclarationState.PENDING.value, D.next_attempt_at <= now)
        .order_by(D.next_attempt_at)
        .limit(limit)
    )
    return [Due(row.id, row.next_attempt_at) for row in rows]


async def released_ids(conn: AsyncConnection, limit: int) -> list[int]:
    """Released declarations, released longest ago first."""
    query = sa.select(D.id).where(D.state == DeclarationState.RELEASED.value).order_by(D.released_at)
    return list((await conn.scalars(query.limit(limit))).all())


async def rejected_past_fix_window_ids(conn: AsyncConnection, now: datetime, limit: int) -> list[int]:
    query = sa.select(D.id).where(D.state == DeclarationState.REJECTED.value, D.refund_after <= now)
    return list((await conn.scalars(query.limit(limit))).all())


async def refunded_not_withdrawn_ids(conn: AsyncConnection, limit: int) -> list[int]:
    query = sa.select(D.id).where(D.state == DeclarationState.REFUNDED.value, D.withdrawn_at.is_(None))
    return list((await conn.scalars(query.limit(limit))).all())


async def page(
    conn: AsyncConnection,
    *,
    state: DeclarationState | None,
    after_id: int,
    limit: int,
    attention_only: bool = False,
) -> list[Declaration]:
    """Up to ``limit`` declarations with an id above ``after_id``, by id, optionally in one state, or
    only those on the operator's worklist."""
    query = sa.select(*_COLUMNS).where(D.id > after_id)
    if state is not None:
        query = query.where(D.state == state.value)
    if attention_only:
        query = query.where(D.attention_at.is_not(None))
    rows = await conn.execute(query.order_by(D.id).limit(limit))
    return [_declaration(row._mapping) for row in rows]


async def count_by_state(conn: AsyncConnection) -> dict[str, int]:
    """How many declarations are in each state; states with none are left out."""
    rows = await conn.execute(sa.select(D.state, sa.func.count()).group_by(D.state))
    return {state: int(n) for state, n in rows}


async def attempts_of(conn: AsyncConnection, declaration_id: int) -> int:
    return int(await conn.scalar(sa.select(D.attempts).where(D.id == declaration_id)) or 0)


# --- writing -----------------------------------------------------------------------------------------


async def insert(
    conn: AsyncConnection, *, order_id: str, order_no: str, trade_mode: TradeMode, cop_no: str, now: datetime
) -> None:
    """A new pending declaration, due at once."""
    await conn.execute(
        _INSERT,  # one statement, values as parameters: no statement to build and key per order
        {
            "order_id": order_id,
            "order_no": order_no,
            "trade_mode": trade_mode.value,
            "state": DeclarationState.PENDING.value,
            "cop_no": cop_no,
            "next_attempt_at": now,
            "created_at": now,
            "updated_at": now,
        },
    )


_INSERT = declarations.insert()


async def claim(conn: AsyncConnection, due: Due, until: datetime) -> bool:
    """Take a due declaration until ``until``: only if it is still pending with the ``next_attempt_at``
    seen, so of two workers that saw it only one gets it."""
    claimed = await conn.execute(
        declarations.update()
        .where(
            D.id == due.id,
            D.state == DeclarationState.PENDING.value,
            D.next_attempt_at == due.next_attempt_at,
        )
        .values(next_attempt_at=until)
    )
    return claimed.rowcount == 1


async def _update_version(conn: AsyncConnection, declaration: Declaration, values: dict[str, Any]) -> None:
    """Set ``values`` only while the declaration is still at the version they were made for: a
    re-declaration meanwhile makes them stale."""
    await conn.execute(
        declarations.update().where(D.id == declaration.id, D.version == declaration.version).values(**values)
    )


async def record_document_sent(
    conn: AsyncConnection, declaration: Declaration, document: Literal["order", "inventory"], now: datetime
) -> None:
    """The platform's order (CEB311) or inventory list (CEB621) of this version is sent."""
    column = "order_sent_version" if document == "order" else "inventory_sent_version"
    await _update_version(conn, declaration, {column: declaration.version, "updated_at": now})


async def record_payment_declared(
    conn: AsyncConnection, declaration: Declaration, declare_no: str | None, now: datetime
) -> None:
    """The payment company declared the payment voucher (CEB411) of this version."""
    values = {"payment_declare_no": declare_no, "payment_declared_version": declaration.version}
    await _update_version(conn, declaration, {**values, "updated_at": now})


async def record_waybill(
    conn: AsyncConnection, declaration: Declaration, waybill: WaybillFacts, now: datetime
) -> None:
    """The carrier declared its waybill (CEB511) of this version."""
    values = {
        "logistics_no": waybill.logistics_no,
        "logistics_code": waybill.logistics_code,
        "logistics_name": waybill.logistics_name,
        "bill_no": waybill.bill_no,
        "traf_no": waybill.traf_no,
        "voyage_no": waybill.voyage_no,
        "waybill_version": declaration.version,
    }
    await _update_version(conn, declaration, {**values, "updated_at": now})


async def postpone(
    conn: AsyncConnection,
    declaration_id: int,
    *,
    attempts: int,
    error: str,
    retry_at: datetime,
    now: datetime,
) -> None:
    """Note a failed attempt on a pending declaration and when to try again."""
    await conn.execute(
        declarations.update()
        .where(D.id == declaration_id, D.state == DeclarationState.PENDING.value)
        .values(attempts=attempts, last_error=error, next_attempt_at=retry_at, updated_at=now)
    )


async def mark_declared(conn: AsyncConnection, declaration_id: int, now: datetime) -> bool:
    """pending -> declared, with the attempts and the last error cleared."""
    moved = await conn.execute(
        declarations.update()
        .where(D.id == declaration_id, D.state == DeclarationState.PENDING.value)
        .values(state=DeclarationState.DECLARED.value, attempts=0, last_error=None, updated_at=now)
    )
    return moved.rowcount == 1


async def _move(
    conn: AsyncConnection,
    declaration_id: int,
    seen: DeclarationState,
    to: DeclarationState,
    now: datetime,
    **values: Any,
) -> bool:
    moved = await conn.execute(
        declarations.update()
        .where(D.id == declaration_id, D.state == seen.value)
        .values(state=to.value, updated_at=now, **values)
    )
    return moved.rowcount == 1


async def mark_shipped(conn: AsyncConnection, declaration_id: int, now: datetime) -> bool:
    """released -> shipped."""
    return await _move(
        conn, declaration_id, DeclarationState.RELEASED, DeclarationState.SHIPPED, now, shipped_at=now
    )


async def mark_refunded(conn: AsyncConnection, declaration_id: int, now: datetime) -> bool:
    """rejected -> refunded, its withdrawal due at once."""
    return await _move(
        conn,
        declaration_id,
        DeclarationState.REJECTED,
        DeclarationState.REFUNDED,
        now,
        next_attempt_at=now,
    )


async def mark_rejected(
    conn: AsyncConnection,
    declaration: Declaration,
    *,
    reason_code: str | None,
    reason: str | None,
    refund_after: datetime,
    now: datetime,
) -> bool:
    """From the state seen to rejected, with customs' reason and the end of the fix window."""
    return await _move(
        conn,
        declaration.id,
        declaration.state,
        DeclarationState.REJECTED,
        now,
        reason_code=reason_code,
        reason=reason,
        refund_after=refund_after,
    )


async def stop_pending(
    conn: AsyncConnection,
    declaration: Declaration,
    *,
    reason_code: str,
    reason: str,
    refund_after: datetime,
    payment_declare_no: str | None,
    now: datetime,
) -> bool:
    """pending -> rejected before customs saw anything, for this version only (a partner's own check
    failed, e.g. the payment company's identity check); the partner's answer is recorded with it."""
    stopped = await conn.execute(
        declarations.update()
        .where(
            D.id == declaration.id,
            D.version == declaration.version,
            D.state == DeclarationState.PENDING.value,
        )
        .values(
            state=DeclarationState.REJECTED.value,
            reason_code=reason_code,
            reason=reason,
            refund_after=refund_after,
            payment_declare_no=payment_declare_no,
            payment_declared_version=declaration.version,
            updated_at=now,
        )
    )
    return stopped.rowcount == 1


async def mark_released(
    conn: AsyncConnection, declaration: Declaration, released_at: datetime, now: datetime
) -> bool:
    """From the state seen to released, its shipping due at once; an earlier rejection's reason is
    cleared."""
    return await _move(
        conn,
        declaration.id,
        declaration.state,
        DeclarationState.RELEASED,
        now,
        next_attempt_at=now,
        released_at=released_at,
        reason_code=None,
        reason=None,
    )


async def move_on(
    conn: AsyncConnection, declaration: Declaration, to: DeclarationState, now: datetime
) -> bool:
    """From the state seen to ``to`` (received, matched...), nothing else changed."""
    return await _move(conn, declaration.id, declaration.state, to, now)


@dataclass(frozen=True)
class Move:
    """One declaration moved from the state seen to ``to``; ``released_at`` when the moves of a page
    released it on the way (its shipping is then due at once and an earlier reason cleared)."""

    declaration_id: int
    seen: DeclarationState
    to: DeclarationState
    released_at: datetime | None = None


async def move_many(conn: AsyncConnection, moves: list[Move], now: datetime) -> None:
    """:func:`move_on` and :func:`mark_released` for many declarations: one statement for each of the
    two shapes, each row still conditional on the state seen. The caller holds the rows locked (an
    executemany tells no count per row)."""
    plain = [m for m in moves if m.released_at is None]
    released = [m for m in moves if m.released_at is not None]
    where = (D.id == sa.bindparam("b_id"), D.state == sa.bindparam("b_seen"))
    if plain:
        await conn.execute(
            declarations.update().where(*where).values(state=sa.bindparam("b_to"), updated_at=now),
            [{"b_id": m.declaration_id, "b_seen": m.seen.value, "b_to": m.to.value} for m in plain],
        )
    if released:
        await conn.execute(
            declarations.update()
            .where(*where)
            .values(
                state=sa.bindparam("b_to"),
                updated_at=now,
                next_attempt_at=now,
                released_at=sa.bindparam("b_released_at"),
                reason_code=None,
                reason=None,
            ),
            [
                {
                    "b_id": m.declaration_id,
                    "b_seen": m.seen.value,
                    "b_to": m.to.value,
                    "b_released_at": m.released_at,
                }
                for m in released
            ],
        )


async def set_reason(
    conn: AsyncConnection, declaration_id: int, code: str | None, reason: str | None
) -> None:
    """Record why customs holds (or sent back) a declaration, without moving it."""
    await conn.execute(
        declarations.update().where(D.id == declaration_id).values(reason_code=code, reason=reason)
    )


async def reopen_as_next_version(conn: AsyncConnection, declaration: Declaration, now: datetime) -> bool:
    """From the state seen back to pending under the next version, due at once: every document is
    then sent again (their ``*_version`` columns are behind)."""
    return await _move(
        conn,
        declaration.id,
        declaration.state,
        DeclarationState.PENDING,
        now,
        version=declaration.version + 1,
        attempts=0,
        last_error=None,
        refund_after=None,
        attention_reason=None,
        attention_at=None,
        next_attempt_at=now,
    )


async def mark_withdrawn(conn: AsyncConnection, declaration_id: int, now: datetime) -> bool:
    """The refunded declaration's documents are withdrawn; once only."""
    done = await conn.execute(
        declarations.update()
        .where(D.id == declaration_id, D.withdrawn_at.is_(None))
        .values(withdrawn_at=now, updated_at=now)
    )
    return done.rowcount == 1


async def correct_consignee(conn: AsyncConnection, declaration: Declaration, consignee: Consignee) -> None:
    """Replace the declared order's consignee (an operator's fix before a re-declaration)."""
    await conn.execute(
        orders.update()
        .where(orders.c.id == declaration.order_id)
        .values(
            consignee_name=consignee.name,
            consignee_phone=consignee.phone,
            consignee_address=consignee.address,
            consignee_district=consignee.district,
        )
    )
