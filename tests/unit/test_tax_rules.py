"""The import tax, line by line, with a worked case for each regime (docs/tax-and-limits.md)."""

from decimal import Decimal

import pytest

from flashport.domain.errors import Conflict, InvalidInput
from flashport.domain.tax import (
    ConsumptionThreshold,
    MeasureUnit,
    NetContent,
    TaxableLine,
    TaxClass,
    TaxRegime,
    assess,
    dutiable_value_fen,
    share_out,
    tax_line,
)

SHARE = Decimal("0.70")
CROSS, FULL = TaxRegime.CROSS_BORDER, TaxRegime.GENERAL_TRADE
GENERAL = TaxClass("general", Decimal("0.13"))
REDUCED = TaxClass("reduced_vat", Decimal("0.09"))
# Consumption tax without a threshold (e.g. a rule that taxes every unit), and high-end cosmetics.
EXCISE = TaxClass("consumption_tax", Decimal("0.13"), Decimal("0.15"))
COSMETICS = TaxClass("consumption_tax", Decimal("0.13"), Decimal("0.15"), None, ConsumptionThreshold())
ML50 = NetContent(Decimal(50), MeasureUnit.MILLILITRE)


def _line(
    tax_class: TaxClass, base: int, regime: TaxRegime, quantity: int = 1, content: NetContent | None = None
):
    line = TaxableLine(1, base, tax_class, quantity, content)
    return tax_line(line, base, SHARE, regime)


# (class, regime, base, tariff, consumption tax, VAT) in fen; each tax rounded half up on its own.
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
]


@pytest.mark.parametrize(("tax_class", "regime", "base", "tariff", "excise", "vat"), WORKED_CASES)
def test_worked_cases_of_the_tax_of_one_line(
    tax_class: TaxClass, regime: TaxRegime, base: int, tariff: int, excise: int, vat: int
) -> None:
    line = _line(tax_class, base, regime)
    assert (line.tariff_fen, line.consumption_tax_fen, line.vat_fen) == (tariff, excise, vat)
    assert line.tax_fen == tariff + excise + vat


def test_a_cosmetic_at_425_yuan_for_30_ml_is_above_the_threshold_and_pays_98_yuan() -> None:
    line = _line(COSMETICS, 42_500, CROSS, content=NetContent(Decimal(30), MeasureUnit.MILLILITRE))
    assert (line.consumption_tax_fen, line.vat_fen, line.tax_fen) == (5_250, 4_550, 9_800)


def test_the_demo_lancome_at_429_yuan_for_50_ml_is_below_the_threshold_and_pays_vat_alone() -> None:
    # 429.00 / 50 ml = 8.58 per ml, under 10.00: no consumption tax; VAT 429 * 13% * 70% = 39.039
    line = _line(COSMETICS, 42_900, CROSS, content=ML50)
    assert (line.consumption_tax_fen, line.vat_fen, line.tax_fen) == (0, 3_904, 3_904)


@pytest.mark.parametrize(
    ("base", "quantity", "content", "levied"),
    [
        (50_000, 1, ML50, True),  # exactly 10.00 per ml: at the threshold, taxed
        (49_999, 1, ML50, False),  # 9.9998 per ml
        (100_000, 2, ML50, True),  # two bottles, 10.00 per ml each
        (99_999, 2, ML50, False),
        (25_000, 1, NetContent(Decimal(25), MeasureUnit.GRAM), True),  # grams as millilitres
        (15_000, 1, NetContent(Decimal(10), MeasureUnit.PIECE), True),  # 15.00 per piece (masks)
        (14_999, 1, NetContent(Decimal(10), MeasureUnit.PIECE), False),
        (100, 1, None, True),  # net content unknown: taxed, never under-declared
    ],
)
def test_consumption_tax_is_due_at_or_above_the_threshold_per_ml_gram_or_piece(
    base: int, quantity: int, content: NetContent | None, levied: bool
) -> None:
    line = _line(COSMETICS, base, CROSS, quantity, content)
    assert (line.consumption_tax_fen > 0) is levied


def test_general_trade_pays_tariff_vat_and_consumption_tax_in_full_at_the_goods_own_rates() -> None:
    # A single indivisible 6,000.00 item of general goods with a 10% tariff: tariff 600.00,
    # VAT (6,000 + 600) * 13% = 858.00, no 70% share.
    shaver = TaxClass("hs:8510", Decimal("0.13"), tariff=Decimal("0.10"))
    line = _line(shaver, 600_000, FULL)
    assert (line.tariff_fen, line.consumption_tax_fen, line.vat_fen, line.tax_fen) == (
        60_000,
        0,
        85_800,
        145_800,
    )
    # A 6,000.00 cosmetic with a 5% tariff: tariff 300.00; composite 6,300 / 0.85 = 7,411.7647;
    # consumption tax 15% = 1,111.76; VAT 13% = 963.53; total 2,375.29.
    cream = TaxClass("hs:3304", Decimal("0.13"), Decimal("0.15"), Decimal("0.05"), ConsumptionThreshold())
    line = _line(cream, 600_000, FULL, content=ML50)
    assert (line.tariff_fen, line.consumption_tax_fen, line.vat_fen, line.tax_fen) == (
        30_000,
        111_176,
        96_353,
        237_529,
    )


def test_within_the_limits_the_tariff_is_0_whatever_the_goods_rate() -> None:
    shaver = TaxClass("hs:8510", Decimal("0.13"), tariff=Decimal("0.10"))
    assert _line(shaver, 600_000, CROSS).tariff_fen == 0


def test_general_trade_without_the_goods_tariff_on_file_is_refused() -> None:
    with pytest.raises(Conflict) as error:
        _line(GENERAL, 600_000, FULL)
    assert error.value.code == "tariff_rate_unknown"


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
def test_freight_and_insurance_are_shared_out_in_whole_fen_that_add_up(
    amount: int, weights: list[int], parts: list[int]
) -> None:
    assert share_out(amount, weights) == parts
    assert sum(parts) in (amount, 0)


def test_an_order_is_assessed_line_by_line_on_goods_freight_and_insurance_before_discounts() -> None:
    lines = [TaxableLine(1, 30_000, GENERAL), TaxableLine(2, 10_000, EXCISE)]
    result = assess(
        lines, freight_fen=2_000, insurance_fen=400, discount_fen=4_000, share=SHARE, regime=CROSS
    )
    first, second = result.lines
    # freight 1,500 / 500 and insurance 300 / 100 in proportion to the goods; the discount lowers no base
    assert (first.base_fen, second.base_fen) == (31_800, 10_600)
    assert first.vat_fen == 2_894  # 31 800 * 9.1% = 2 893.8
    # 10 600 / 0.85 = 12 470.5882; * 10.5% = 1 309.41 -> 1 309; * 9.1% = 1 134.82 -> 1 135
    assert (second.consumption_tax_fen, second.vat_fen) == (1_309, 1_135)
    assert result.dutiable_value_fen == 42_400
    assert result.total_fen == 40_000 + 2_000 + result.tax_fen - 4_000


def test_a_non_cash_discount_does_not_lower_the_tax_or_the_dutiable_value() -> None:
    # 100.00 of goods, 10.00 paid with points: VAT on 100.00 (9.10), the buyer pays 99.10.
    result = assess(
        [TaxableLine(1, 10_000, GENERAL)], freight_fen=0, discount_fen=1_000, share=SHARE, regime=CROSS
    )
    assert (result.tax_fen, result.dutiable_value_fen, result.total_fen) == (910, 10_000, 9_910)


def test_the_dutiable_value_is_goods_plus_freight_plus_insurance() -> None:
    assert dutiable_value_fen(499_000, 2_000) == 501_000
    assert dutiable_value_fen(499_000, 900, 100) == 500_000


def test_a_discount_larger_than_the_order_is_refused() -> None:
    with pytest.raises(InvalidInput) as error:
        assess([TaxableLine(1, 1_000, GENERAL)], freight_fen=0, discount_fen=1_001, share=SHARE, regime=CROSS)
    assert error.value.code == "invalid_discount"
