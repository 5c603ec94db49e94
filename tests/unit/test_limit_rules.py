from datetime import UTC, datetime
from decimal import Decimal

import pytest

from flashport.domain.errors import Conflict
from flashport.domain.limits import (
    allowed_regime,
    check_annual_limit,
    china_date,
    customs_year,
    max_units_per_order,
    regime_for,
    within_annual_limit,
)
from flashport.domain.tax import TaxRegime, dutiable_value_fen

SINGLE = 500_000  # 5,000.00 CNY
ANNUAL = 2_600_000  # 26,000.00 CNY


@pytest.mark.parametrize("quantities", [[1], [2], [1, 1], [99]])
def test_an_order_of_exactly_5000_yuan_is_cross_border(quantities: list[int]) -> None:
    assert regime_for(SINGLE, quantities, SINGLE) is TaxRegime.CROSS_BORDER


@pytest.mark.parametrize("quantities", [[3], [2], [1, 1], [1, 2]])
def test_an_order_of_5000_yuan_and_one_fen_is_refused_unless_it_is_one_item(quantities: list[int]) -> None:
    with pytest.raises(Conflict) as error:
        regime_for(SINGLE + 1, quantities, SINGLE)
    assert error.value.code == "single_transaction_limit"


@pytest.mark.parametrize("value", [SINGLE + 1, 600_000, 2_000_000])
def test_a_single_indivisible_item_above_the_limit_is_general_trade(value: int) -> None:
    assert regime_for(value, [1], SINGLE) is TaxRegime.GENERAL_TRADE


@pytest.mark.parametrize(
    ("paid", "order"),
    [(0, ANNUAL), (ANNUAL - 100, 100), (ANNUAL - 9_900, 9_900), (2_000_000, 600_000), (0, 0)],
)
def test_the_26000th_yuan_is_within_the_annual_limit(paid: int, order: int) -> None:
    check_annual_limit(paid, order, ANNUAL)


@pytest.mark.parametrize(
    ("paid", "order"),
    [(ANNUAL - 100, 101), (ANNUAL - 9_899, 9_900), (2_000_001, 600_000), (ANNUAL, 1), (0, ANNUAL + 1)],
)
def test_an_order_that_would_pass_the_annual_limit_is_refused(paid: int, order: int) -> None:
    with pytest.raises(Conflict) as error:
        check_annual_limit(paid, order, ANNUAL)
    assert error.value.code == "annual_limit_exceeded"


def test_the_refusal_says_how_much_is_left_this_year() -> None:
    with pytest.raises(Conflict) as error:
        check_annual_limit(ANNUAL - 5_000, 9_900, ANNUAL)
    assert "50.00 CNY is left" in error.value.message


@pytest.mark.parametrize(
    ("at", "year"),
    [
        (datetime(2026, 12, 31, 15, 59, 59, tzinfo=UTC), 2026),
        (datetime(2026, 12, 31, 16, 0, 0, tzinfo=UTC), 2027),  # midnight in Shanghai (UTC+8)
        (datetime(2027, 1, 1, 0, 0, 0, tzinfo=UTC), 2027),
    ],
)
def test_the_year_is_the_calendar_year_in_china(at: datetime, year: int) -> None:
    assert customs_year(at) == year


def test_the_single_limit_counts_freight_and_insurance_at_5000_00_and_5000_01() -> None:
    # 4,990.00 of goods in two units plus 10.00 freight is exactly 5,000.00; one fen of insurance more
    # passes it (the audit's 4,990 + 20 freight went through a simulator that counted goods only).
    assert allowed_regime(dutiable_value_fen(499_000, 1_000), [2], SINGLE) is TaxRegime.CROSS_BORDER
    assert allowed_regime(dutiable_value_fen(499_000, 1_000, 1), [2], SINGLE) is None
    assert allowed_regime(dutiable_value_fen(499_000, 2_000), [1, 1], SINGLE) is None
    assert allowed_regime(dutiable_value_fen(499_000, 2_000), [1], SINGLE) is TaxRegime.GENERAL_TRADE


def test_quantities_read_from_a_message_count_as_well() -> None:
    assert allowed_regime(SINGLE + 1, [Decimal("1")], SINGLE) is TaxRegime.GENERAL_TRADE
    assert allowed_regime(SINGLE + 1, [Decimal("2")], SINGLE) is None


@pytest.mark.parametrize(
    ("price", "extras", "units"),
    [
        (250_000, 0, 2),  # 2 x 2,500.00 = 5,000.00
        (166_667, 0, 2),  # 3 units would be 5,000.01
        (249_500, 1_000, 2),  # 2 x 2,495.00 + 10.00 freight = 5,000.00
        (249_500, 1_001, 1),  # one fen of freight more: only one unit
        (600_000, 0, 1),  # a single item above the limit may still go, as general trade
        (100, 0, 99),  # never more than an order may hold
    ],
)
def test_the_units_one_order_may_hold_are_computed_once_per_item(price: int, extras: int, units: int) -> None:
    assert max_units_per_order(price, extras, SINGLE, 99) == units


def test_the_annual_limit_is_reached_at_26000_00_and_passed_at_26000_01() -> None:
    assert within_annual_limit(ANNUAL - 501_000, dutiable_value_fen(499_000, 2_000), ANNUAL)
    assert not within_annual_limit(ANNUAL - 501_000, dutiable_value_fen(499_000, 2_001), ANNUAL)


@pytest.mark.parametrize(
    ("at", "day"),
    [
        (datetime(2026, 12, 2, 23, 30, tzinfo=UTC), "2026-12-03"),  # 07:30 on the 3rd in Shanghai
        (datetime(2026, 12, 2, 15, 59, 59, tzinfo=UTC), "2026-12-02"),
        (datetime(2026, 12, 2, 16, 0, tzinfo=UTC), "2026-12-03"),  # midnight in Shanghai
    ],
)
def test_the_customs_date_is_the_date_in_china(at: datetime, day: str) -> None:
    assert china_date(at).isoformat() == day
