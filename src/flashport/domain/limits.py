"""The cross-border limits (rule 8; docs/architecture.md): 5,000 CNY per transaction and 26,000 CNY
per person per calendar year, both in fen and both settings.

Both are measured in the dutiable value (goods + freight + insurance, no tax, non-cash discounts not
subtracted: :func:`flashport.domain.tax.dutiable_value_fen`), the value the limits are written against
(财关税〔2016〕18号, 〔2018〕49号); the platform and the customs simulator both decide with the functions
here. A single indivisible item (one line, one unit) above the single-transaction limit is still
allowed, taxed as general trade, and counts in full toward the year.

The year is the calendar year in China (Asia/Shanghai) of the payment, whatever zone the servers run in.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from flashport.domain.errors import Conflict, FieldProblem
from flashport.domain.money import format_fen
from flashport.domain.tax import TaxRegime

CHINA = ZoneInfo("Asia/Shanghai")


def china_date(at: datetime) -> date:
    return at.astimezone(CHINA).date()


def customs_year(at: datetime) -> int:
    """The calendar year (in China) an amount paid at ``at`` counts toward."""
    return china_date(at).year


def allowed_regime(
    dutiable_fen: int, line_quantities: Sequence[int | Decimal], limit_fen: int
) -> TaxRegime | None:
    """Within the single-transaction limit: cross-border. Above it: general trade if the order is one
    indivisible item (one line of one unit), otherwise ``None``: not importable as one order."""
    if dutiable_fen <= limit_fen:
        return TaxRegime.CROSS_BORDER
    if len(line_quantities) == 1 and line_quantities[0] == 1:
        return TaxRegime.GENERAL_TRADE
    return None


def regime_for(dutiable_fen: int, line_quantities: Sequence[int | Decimal], limit_fen: int) -> TaxRegime:
    """:func:`allowed_regime`, refusing an order it allows in neither regime."""
    regime = allowed_regime(dutiable_fen, line_quantities, limit_fen)
    if regime is not None:
        return regime
    raise single_limit_refusal(dutiable_fen, limit_fen)


def single_limit_refusal(dutiable_fen: int | None, limit_fen: int) -> Conflict:
    worth = "" if dutiable_fen is None else f"; this one is worth {format_fen(dutiable_fen)} CNY"
    return Conflict(
        f"an order may be worth at most {format_fen(limit_fen)} CNY (goods, freight and insurance) "
        f"unless it is a single item{worth}",
        code="single_transaction_limit",
        details=[FieldProblem("quantity", "buy fewer units per order")],
    )


def max_units_per_order(unit_price_fen: int, extras_fen: int, limit_fen: int, ceiling: int) -> int:
    """The most units of one item a single order may hold: as many as keep the dutiable value (their
    price plus ``extras_fen``, the freight and insurance every order carries) within the limit, and
    never fewer than one, since a single indivisible item may go as general trade. Computed once per
    item so the buy path checks the single limit with one comparison."""
    if unit_price_fen <= 0:
        return ceiling
    return max(1, min(ceiling, (limit_fen - extras_fen) // unit_price_fen))


def within_annual_limit(paid_this_year_fen: int, order_fen: int, limit_fen: int) -> bool:
    """The identity's total this year plus this order's dutiable value may reach the limit, not pass it."""
    return paid_this_year_fen + order_fen <= limit_fen


def check_annual_limit(paid_this_year_fen: int, order_fen: int, limit_fen: int) -> None:
    """:func:`within_annual_limit`, or a refusal saying how much is left this year."""
    if within_annual_limit(paid_this_year_fen, order_fen, limit_fen):
        return
    left = max(limit_fen - paid_this_year_fen, 0)
    raise Conflict(
        f"this order ({format_fen(order_fen)} CNY) would take the buyer past the annual cross-border "
        f"limit of {format_fen(limit_fen)} CNY; {format_fen(left)} CNY is left this year",
        code="annual_limit_exceeded",
        details=[FieldProblem("identity_id", "another buyer identity, or a smaller order")],
    )
