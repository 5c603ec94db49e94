from decimal import Decimal

import pytest

from flashport.domain.catalog import TaxCategory
from flashport.domain.errors import InvalidInput
from flashport.domain.tax import TaxableLine, TaxRates, TaxRegime, assess, share_out, tax_line

RATES = TaxRates()  # the rules' defaults: VAT 13% / 9%, consumption tax 15%, 70% share
GENERAL, REDUCED, EXCISE = TaxCategory.GENERAL, TaxCategory.REDUCED_VAT, TaxCategory.CONSUMPTION_TAX
CROSS, FULL = TaxRegime.CROSS_BORDER, TaxRegime.GENERAL_TRADE

# (category, regime, base, tariff, consumption tax, VAT) in fen; each tax rounded half up on its own.
WORKED_CASES = [
    # The worked case: base 425.00 -> consumption tax 425 / 0.85 * 15% * 70% = 52.50,
    # VAT (425 + 75) * 13% * 70% = 45.50, tax 98.00
    (EXCISE, CROSS, 42_500, 0, 5_250, 4_550),
    # 199.00: 23 411.7647 fen composite; consumption tax 2 458.2353 -> 2 458, VAT 2 130.4706 -> 2 130.
    # Rounding the sum once (199 * 23.0588% = 4 588.706) would give 4 589, not 4 588.
    (EXCISE, CROSS, 19_900, 0, 2_458, 2_130),
    # general: 13% * 70% = 9.1%. 99.00 -> 9.009 -> 9.01
    (GENERAL, CROSS, 9_900, 0, 0, 901),
    # 15.00 -> 1.365 -> 1.37: exactly half a fen rounds up (banker's rounding would give 1.36)
    (GENERAL, CROSS, 1_500, 0, 0, 137),
    # the single-transaction limit itself: 5,000.00 * 9.1% = 455.00
    (GENERAL, CROSS, 500_000, 0, 0, 45_500),
    # reduced VAT: 9% * 70% = 6.3%. 99.00 -> 6.237 -> 6.24
    (REDUCED, CROSS, 9_900, 0, 0, 624),
    # general trade, full rates, tariff 0 by default: 6,000.00 * 13% = 780.00
    (GENERAL, FULL, 600_000, 0, 0, 78_000),
    # general trade with consumption tax: composite 705 882.3529; * 15% = 105 882.35 -> 105 882;
    # * 13% = 91 764.71 -> 91 765
    (EXCISE, FULL, 600_000, 0, 105_882, 91_765),
    # reduced VAT in general trade: 6,000.00 * 9% = 540.00
    (REDUCED, FULL, 600_000, 0, 0, 54_000),
]


@pytest.mark.parametrize(("category", "regime", "base", "tariff", "excise", "vat"), WORKED_CASES)
def test_worked_cases_of_the_tax_of_one_line(
    category: TaxCategory, regime: TaxRegime, base: int, tariff: int, excise: int, vat: int
) -> None:
    line = tax_line(1, category, base, RATES, regime)
    assert (line.tariff_fen, line.consumption_tax_fen, line.vat_fen) == (tariff, excise, vat)
    assert line.tax_fen == tariff + excise + vat


def test_the_crossborder_worked_case_totals_98_yuan() -> None:
    assert tax_line(1, EXCISE, 42_500, RATES, CROSS).tax_fen == 9_800


def test_general_trade_adds_the_tariff_and_taxes_the_price_including_it() -> None:
    rates = TaxRates(general_trade_tariff=Decimal("0.10"))
    line = tax_line(1, GENERAL, 600_000, rates, FULL)
    # tariff 600.00; VAT on 6,600.00 at 13% = 858.00
    assert (line.tariff_fen, line.consumption_tax_fen, line.vat_fen) == (60_000, 0, 85_800)
    assert tax_line(1, GENERAL, 600_000, rates, CROSS).tariff_fen == 0  # no tariff within the limits


def test_rates_are_settings() -> None:
    rates = TaxRates(vat=Decimal("0.10"), cross_border_share=Decimal("0.5"))
    assert tax_line(1, GENERAL, 10_000, rates, CROSS).vat_fen == 500


@pytest.mark.parametrize(
    ("amount", "weights", "parts"),
    [
        (0, [5, 5], [0, 0]),
        (100, [1, 1, 1], [34, 33, 33]),
        (1000, [9900], [1000]),
        (7, [100, 300], [2, 5]),  # 1.75 and 5.25: the leftover fen goes to the larger remainder
        (10, [0, 0], [0, 0]),
    ],
)
def test_freight_and_discounts_are_shared_out_in_whole_fen_that_add_up(
    amount: int, weights: list[int], parts: list[int]
) -> None:
    assert share_out(amount, weights) == parts
    assert sum(parts) in (amount, 0)


def test_an_order_is_assessed_line_by_line_on_goods_plus_freight_less_discount() -> None:
    lines = [TaxableLine(1, 30_000, GENERAL), TaxableLine(2, 10_000, EXCISE)]
    result = assess(lines, freight_fen=2_000, discount_fen=4_000, rates=RATES, regime=CROSS)
    first, second = result.lines
    # freight 1,500 / 500 and discount 3,000 / 1,000 in proportion to the goods
    assert (first.base_fen, second.base_fen) == (28_500, 9_500)
    assert first.vat_fen == 2_594  # 28 500 * 9.1% = 2 593.5 -> half up
    # 9 500 / 0.85 = 11 176.4706; * 10.5% = 1 173.53 -> 1 174; * 9.1% = 1 017.06 -> 1 017
    assert (second.consumption_tax_fen, second.vat_fen) == (1_174, 1_017)
    assert result.tax_fen == 2_594 + 1_174 + 1_017
    assert result.transaction_value_fen == 38_000
    assert result.total_fen == 40_000 + 2_000 + result.tax_fen - 4_000


def test_a_discount_larger_than_the_order_is_refused() -> None:
    with pytest.raises(InvalidInput) as error:
        assess([TaxableLine(1, 1_000, GENERAL)], freight_fen=0, discount_fen=1_001, rates=RATES, regime=CROSS)
    assert error.value.code == "invalid_discount"
