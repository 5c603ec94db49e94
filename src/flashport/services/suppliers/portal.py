"""The supplier portal: a supplier's own products and stock, the sales of its goods per event (units,
revenue at sale price, what waits for customs, what shipped) and a settlement statement per event,
also as CSV. A supplier user sees only its own supplier's; an operator names the supplier it looks at.
Every query is scoped by the supplier (adapters/db/supplier_sales_repo.py)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime

from flashport.adapters.db import supplier_sales_repo as repo
from flashport.domain.accounts import Role
from flashport.domain.errors import Forbidden, InvalidInput, NotFound
from flashport.domain.money import format_fen
from flashport.domain.supplier_statement import StatementLine, StatementTotals, refunded_share, stage, totals
from flashport.services.context import Context


@dataclass(frozen=True, slots=True)
class StockRow:
    product_id: int
    product_title: str
    sku_code: str
    sku_title: str
    warehouse: str | None
    on_hand: int
    allotted: int

    @property
    def free(self) -> int:
        return self.on_hand - self.allotted


@dataclass(frozen=True, slots=True)
class EventSales:
    event_id: int
    title: str
    starts_at: datetime
    ends_at: datetime
    units: int
    revenue: str
    waiting_units: int
    shipped_units: int


@dataclass(frozen=True, slots=True)
class Statement:
    supplier_id: int
    supplier: str
    event_id: int
    event_title: str
    lines: tuple[StatementLine, ...]
    totals: StatementTotals


async def whose(ctx: Context, role: Role | str, user_id: int, requested: int | None) -> int:
    """The supplier the caller may look at: a supplier user's own (naming another is 403), or the one
    an operator names (required)."""
    if role == Role.SUPPLIER:
        async with ctx.read() as conn:
            own = await repo.supplier_of_user(conn, user_id)
        if own is None or (requested is not None and requested != own):
            raise Forbidden("you may only see your own supplier's sales", code="not_your_supplier")
        return int(own)
    if requested is None:
        raise InvalidInput("say which supplier to look at (supplier_id)", code="missing_supplier")
    return requested


async def supplier_name(ctx: Context, supplier_id: int) -> str:
    async with ctx.read() as conn:
        name = await repo.supplier_name(conn, supplier_id)
    if name is None:
        raise NotFound(f"there is no supplier {supplier_id}", code="supplier_not_found")
    return name


async def stock(ctx: Context, supplier_id: int) -> list[StockRow]:
    async with ctx.read() as conn:
        rows = await repo.stock_of(conn, supplier_id)
    return [
        StockRow(
            int(r.product_id),
            r.product_title,
            r.code,
            r.sku_title,
            r.warehouse,
            int(r.on_hand or 0),
            int(r.allotted or 0),
        )
        for r in rows
    ]


async def sales_by_event(ctx: Context, supplier_id: int) -> list[EventSales]:
    async with ctx.read() as conn:
        rows = await repo.sales_by_event(conn, supplier_id)
    return [
        EventSales(
            int(r.event_id),
            r.title,
            r.starts_at,
            r.ends_at,
            int(r.units),
            format_fen(int(r.revenue_fen)),
            int(r.waiting_units),
            int(r.shipped_units),
        )
        for r in rows
    ]


async def statement(ctx: Context, supplier_id: int, event_id: int) -> Statement:
    """The supplier's settlement statement of one event; 404 when it sold nothing there (nothing tells
    it whether the event exists otherwise)."""
    async with ctx.read() as conn:
        rows = await repo.event_lines(conn, supplier_id, event_id)
        event = await repo.event_title(conn, event_id)
        name = await repo.supplier_name(conn, supplier_id)
    if not rows or event is None or name is None:
        raise NotFound(f"no sales of your goods in event {event_id}", code="no_sales_in_event")
    lines = [
        StatementLine(
            order_no=r.order_no,
            paid_at=r.paid_at,
            sku_code=r.sku_code,
            title=r.title,
            quantity=int(r.quantity),
            unit_price_fen=int(r.unit_price_fen),
            total_fen=int(r.total_fen),
            stage=stage(r.customs_state, r.shipped_at),
            refunded_fen=refunded_share(int(r.total_fen), int(r.order_refunded_fen), int(r.order_total_fen)),
        )
        for r in rows
    ]
    return Statement(supplier_id, name, event_id, event.title, tuple(lines), totals(lines))


CSV_HEADER = (
    "order_no",
    "paid_at_utc",
    "sku",
    "title",
    "units",
    "unit_price_cny",
    "line_total_cny",
    "stage",
    "refunded_cny",
)


def statement_csv(found: Statement) -> str:
    """The statement as CSV (RFC 4180, UTF-8 with a byte-order mark so spreadsheet programs read the
    Chinese titles): a line per order line, then the totals."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(("supplier", found.supplier, "event", found.event_id, found.event_title))
    writer.writerow(CSV_HEADER)
    for line in found.lines:
        writer.writerow(
            (
                line.order_no,
                line.paid_at.isoformat() if line.paid_at else "",
                line.sku_code,
                _cell(line.title),
                line.quantity,
                format_fen(line.unit_price_fen),
                format_fen(line.total_fen),
                line.stage,
                format_fen(line.refunded_fen),
            )
        )
    t = found.totals
    writer.writerow(
        ("total", "", "", "", t.units, "", format_fen(t.gross_fen), "", format_fen(t.refunded_fen))
    )
    writer.writerow(("net", "", "", "", "", "", format_fen(t.net_fen), "", ""))
    return out.getvalue()


def _cell(text: str) -> str:
    """A cell a spreadsheet will not run as a formula (OWASP's CSV injection advice)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
