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


async def record_inventory_number(conn: AsyncConnection, declaration_id: int, invt_no: str) -> None:
    """Keep the number customs gave the list (on acceptance, 120, or on release), and link any bill that
    arrived before it."""
    await conn.execute(
        declarations.update().where(declarations.c.id == declaration_id).values(invt_no=invt_no)
    )
    await conn.execute(
        customs_tax_bills.update()
        .where(B.invt_no == invt_no, B.declaration_id.is_(None))
        .values(declaration_id=declaration_id)
    )


async def store_bill(conn: AsyncConnection, values: dict[str, Any]) -> bool:
    """Store one bill once (unique on ``tax_no``); False when it is stored already. Linked to the
    declaration carrying its inventory number, when there is one."""
    if await conn.scalar(sa.select(B.id).where(B.tax_no == values["tax_no"])) is not None:
        return False
    declaration_id = await conn.scalar(
        sa.select(declarations.c.id).where(declarations.c.invt_no == values["invt_no"])
    )
    await conn.execute(customs_tax_bills.insert().values(**values, declaration_id=declaration_id))
    return True


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
