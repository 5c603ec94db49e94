"""A supplier's settlement statement for one event: its goods sold (paid lines), at sale price, what
customs still holds, what shipped, and what was refunded. Pure: the portal service reads the rows.

Refunds are per order, and an order may hold several suppliers' goods and tax: a line bears the share
of its order's refund that its value bears of the order's total, rounded down to the fen (so the
shares of one order never add up to more than was refunded)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

SHIPPED, RELEASED, WAITING, REFUNDED, RETURNED = (
    "shipped",
    "released",
    "waiting for customs",
    "refunded",
    "returned",
)


@dataclass(frozen=True, slots=True)
class StatementLine:
    order_no: str
    paid_at: datetime | None
    sku_code: str
    title: str
    quantity: int
    unit_price_fen: int
    total_fen: int
    stage: str
    refunded_fen: int


@dataclass(frozen=True, slots=True)
class StatementTotals:
    units: int
    gross_fen: int
    refunded_fen: int
    net_fen: int
    waiting_units: int
    shipped_units: int


def stage(customs_state: str | None, shipped_at: datetime | None) -> str:
    """Where the goods of a paid line are, in the supplier's words."""
    if shipped_at is not None or customs_state == "shipped":
        return SHIPPED
    if customs_state in ("refunded", "returned"):
        return REFUNDED if customs_state == "refunded" else RETURNED
    if customs_state == "released":
        return RELEASED
    return WAITING


def refunded_share(line_total_fen: int, order_refunded_fen: int, order_total_fen: int) -> int:
    if order_refunded_fen <= 0 or order_total_fen <= 0:
        return 0
    return line_total_fen * min(order_refunded_fen, order_total_fen) // order_total_fen


def totals(lines: list[StatementLine]) -> StatementTotals:
    gross = sum(line.total_fen for line in lines)
    refunded = sum(line.refunded_fen for line in lines)
    return StatementTotals(
        units=sum(line.quantity for line in lines),
        gross_fen=gross,
        refunded_fen=refunded,
        net_fen=gross - refunded,
        waiting_units=sum(line.quantity for line in lines if line.stage == WAITING),
        shipped_units=sum(line.quantity for line in lines if line.stage == SHIPPED),
    )
