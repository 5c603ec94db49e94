from datetime import UTC, datetime

import pytest

from flashport.domain.errors import Conflict
from flashport.domain.limits import check_annual_limit, customs_year, regime_for
from flashport.domain.tax import TaxRegime

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
