"""The simulator's limits on the values of the messages: the dutiable value (goodsValue + freight on
the order, insuredFee on the inventory list; no tax, discount not subtracted), measured with the same
domain functions as the platform, and the year of the payment in China."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from decimal import Decimal

import pytest

from flashport.ceb.formatting import CHINA_STANDARD_TIME
from flashport.sandbox_customs import reasons
from flashport.sandbox_customs.checks import counting_year
from flashport.sandbox_customs.documents import Line
from flashport.sandbox_customs.match import Matched, Rejected, Verdict
from tests.unit.test_sandbox_customs_match import INVENTORY, ORDER, PAYMENT, match

ANNUAL = 2_600_000


def _order_of(goods: int, freight: int, qty: int, *, tax: int = 0, discount: int = 0) -> dict[str, object]:
    """Order, payment and inventory list of ``qty`` units worth ``goods`` in all."""
    line = Line(gnum=1, item_no="BAG-1", qty=Decimal(qty), price=goods // qty, total_price=goods)
    paid = goods + freight + tax - discount
    order = dataclasses.replace(
        ORDER,
        goods_value=goods,
        freight=freight,
        discount=discount,
        tax_total=tax,
        actural_paid=paid,
        lines=(line,),
    )
    return {
        "order": order,
        "payment": dataclasses.replace(PAYMENT, amount_paid=paid),
        "inventory": dataclasses.replace(INVENTORY, lines=(line,), freight=freight),
    }


def _code(verdict: Verdict) -> str | None:
    return verdict.reason_code if isinstance(verdict, Rejected) else None


@pytest.mark.parametrize(
    ("goods", "freight", "insured", "code"),
    [
        (498_000, 2_000, 0, None),  # 4,980.00 + 20.00 freight = 5,000.00
        (499_000, 2_000, 0, reasons.SINGLE_LIMIT_EXCEEDED),  # the audit's 4,990 + 20 freight: 5,010.00
        (498_000, 2_000, 1, reasons.SINGLE_LIMIT_EXCEEDED),  # 5,000.01 with one fen of insurance
        (498_000, 1_999, 1, None),
    ],
)
def test_the_single_limit_counts_freight_and_insurance(
    goods: int, freight: int, insured: int, code: str | None
) -> None:
    docs = _order_of(goods, freight, 2)
    docs["inventory"] = dataclasses.replace(docs["inventory"], insured_fee=insured)  # type: ignore[type-var]
    assert _code(match(**docs)) == code  # type: ignore[arg-type]


def test_a_single_item_above_the_limit_with_its_freight_passes_as_general_trade() -> None:
    assert match(**_order_of(499_000, 2_000, 1)) == Matched()  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("already", "code"), [(ANNUAL - 500_000, None), (ANNUAL - 499_999, reasons.ANNUAL_LIMIT_EXCEEDED)]
)
def test_the_annual_limit_counts_the_dutiable_value_without_the_tax(already: int, code: str | None) -> None:
    # 4,980.00 + 20.00 freight = 5,000.00 dutiable; 455.00 tax and a 50.00 non-cash discount change nothing.
    docs = _order_of(498_000, 2_000, 2, tax=45_500, discount=5_000)
    assert _code(match(**docs, year_total=already)) == code  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("paid_at", "year"),
    [
        (datetime(2026, 12, 31, 23, 59, 59, tzinfo=CHINA_STANDARD_TIME), 2026),
        (datetime(2027, 1, 1, 0, 0, 0, tzinfo=CHINA_STANDARD_TIME), 2027),
    ],
)
def test_an_order_counts_in_the_year_of_its_payment_in_china_not_of_the_order(
    paid_at: datetime, year: int
) -> None:
    ordered = dataclasses.replace(ORDER, app_time=datetime(2026, 12, 31, 23, 50, tzinfo=CHINA_STANDARD_TIME))
    assert counting_year(ordered, dataclasses.replace(PAYMENT, pay_time=paid_at)) == year
    assert counting_year(ordered, None) == 2026  # no payment on file yet: the order's time
