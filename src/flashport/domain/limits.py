"""The cross-border limits (rule 8; docs/architecture.md): 5,000 CNY per transaction and 26,000 CNY
per person per calendar year, both in fen and both settings.

Both are measured in the actual transaction price (goods + freight - discount, tax excluded: see
:func:`flashport.domain.tax.transaction_value_fen`), which is the customs value the limits are written
against; with free freight and no discount it is the goods value. A single indivisible item (one line,
one unit) above the single-transaction limit is still allowed, taxed as general trade, and counts in
full toward the year.

The year is the calendar year in China (Asia/Shanghai), whatever zone the servers run in.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from zoneinfo import ZoneInfo

from flashport.domain.errors import Conflict, FieldProblem
from flashport.domain.money import format_fen
from flashport.domain.tax import TaxRegime

CHINA = ZoneInfo("Asia/Shanghai")


def china_date(at: datetime) -> date:
    return at.astimezone(CHINA).date()


def customs_year(at: datetime) -> int:
    """The calendar year an amount paid at ``at`` counts toward."""
    return china_date(at).year


def regime_for(transaction_value_fen: int, line_quantities: Sequence[int], limit_fen: int) -> TaxRegime:
    """Within the single-transaction limit: cross-border. Above it: general trade if the order is one
    indivisible item, otherwise refused."""
    if transaction_value_fen <= limit_fen:
        return TaxRegime.CROSS_BORDER
    if list(line_quantities) == [1]:
        return TaxRegime.GENERAL_TRADE
    raise Conflict(
        f"an order may be worth at most {format_fen(limit_fen)} CNY unless it is a single item; "
        f"this one is worth {format_fen(transaction_value_fen)} CNY",
        code="single_transaction_limit",
        details=[FieldProblem("quantity", "buy fewer units per order")],
    )


def check_annual_limit(paid_this_year_fen: int, order_fen: int, limit_fen: int) -> None:
    """The identity's paid total this year plus this order may reach the limit, not pass it."""
    if paid_this_year_fen + order_fen <= limit_fen:
        return
    left = max(limit_fen - paid_this_year_fen, 0)
    raise Conflict(
        f"this order ({format_fen(order_fen)} CNY) would take the buyer past the annual cross-border "
        f"limit of {format_fen(limit_fen)} CNY; {format_fen(left)} CNY is left this year",
        code="annual_limit_exceeded",
        details=[FieldProblem("identity_id", "another buyer identity, or a smaller order")],
    )
