"""SQL for customs' tax bills (CEB816/818) and the inventory number that links them to declarations.
Every function works in the caller's connection."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from flashport.adapters.db.schema import customs_tax_bills, declarations, orders
from flashport.domain.withholding import BillStatus, TaxBillRecord

B = customs_tax_bills.c


async def record_inventory_numbers(conn: AsyncConnection, numbered: list[tuple[int, str]]) -> None:
    """Keep the number customs gave each list (on acceptance, 120, or on release), and link any bill
    that arrived before it: two statements for all the (declaration id, inventory number) pairs."""
    if not numbered:
        return
    await conn.execute(
        declarations.update()
        .where(declarations.c.id == sa.bindparam("b_id"))
        .values(invt_no=sa.bindparam("b_invt_no")),
        [{"b_id": declaration_id, "b_invt_no": invt_no} for declaration_id, invt_no in numbered],
    )
    await conn.execute(
        customs_tax_bills.update()
        .where(B.invt_no == sa.bindparam("b_invt_no"), B.declaration_id.is_(None))
        .values(declaration_id=sa.bindparam("b_id")),
        [{"b_id": declaration_id, "b_invt_no": invt_no} for declaration_id, invt_no in numbered],
    )


async def store_bills(conn: AsyncConnection, bills: list[dict[str, Any]]) -> int:
    """Store each bill once (unique on ``tax_no``: one stored already is left out), linked to the
    declaration carrying its inventory number when there is one, in three statements; returns how
    many were new."""
    tax_nos = [b["tax_no"] for b in bills]
    if not tax_nos:
        return 0
    stored = set((await conn.execute(sa.select(B.tax_no).where(B.tax_no.in_(tax_nos)))).scalars())
    fresh = list({b["tax_no"]: b for b in bills if b["tax_no"] not in stored}.values())
    if not fresh:
        return 0
    invt_nos = sorted({b["invt_no"] for b in fresh})
    query = sa.select(declarations.c.invt_no, declarations.c.id).where(declarations.c.invt_no.in_(invt_nos))
    linked = {row.invt_no: row.id for row in await conn.execute(query)}
    await conn.execute(
        customs_tax_bills.insert(), [{**b, "declaration_id": linked.get(b["invt_no"])} for b in fresh]
    )
    return len(fresh)


async def set_status(conn: AsyncConnection, tax_no: str, status: BillStatus, now: datetime) -> bool:
    done = await conn.execute(
        customs_tax_bills.update().where(B.tax_no == tax_no).values(status=status.value, updated_at=now)
    )
    return done.rowcount > 0


def _query() -> sa.Select[Any]:
    return (
        sa.select(
            B.tax_no,
            B.invt_no,
            B.status,
            B.billed_fen,
            B.issued_at,
            orders.c.order_no,
            orders.c.tax_fen.label("collected_fen"),
        )
        .select_from(
            customs_tax_bills.outerjoin(declarations, declarations.c.id == B.declaration_id).outerjoin(
                orders, orders.c.id == declarations.c.order_id
            )
        )
        .order_by(B.issued_at, B.tax_no)
    )


def _billed(row: Any) -> TaxBillRecord:
    return TaxBillRecord(
        tax_no=row.tax_no,
        invt_no=row.invt_no,
        status=BillStatus(row.status),
        billed_fen=row.billed_fen,
        order_no=row.order_no,
        collected_fen=row.collected_fen,
        issued_at=row.issued_at,
    )


async def bills_of_period(conn: AsyncConnection, period: str) -> list[TaxBillRecord]:
    return [_billed(row) for row in (await conn.execute(_query().where(B.period == period))).all()]


async def bills_of_order(conn: AsyncConnection, order_no: str) -> list[TaxBillRecord]:
    query = _query().where(orders.c.order_no == order_no)
    return [_billed(row) for row in (await conn.execute(query)).all()]
