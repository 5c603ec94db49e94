"""The cross-border comprehensive tax (docs/architecture.md, "The business"), line by line.

The base of a line is its share of the actual transaction price: its goods plus its share of freight,
after its share of the discount. Then, with t the tariff rate, c the consumption-tax rate and v the VAT
rate:

    composite price   = (base + tariff) / (1 - c)      consumption tax is levied on a price containing it
    tariff            = base * t
    consumption tax   = composite * c
    VAT               = composite * v                  VAT's base includes the full consumption tax

Within the limits (``CROSS_BORDER``) the tariff is 0 and consumption tax and VAT are charged at 70% of
those amounts; a single indivisible item above the single-transaction limit (``GENERAL_TRADE``) pays
all three in full.

Rounding rule: ROUND_HALF_UP to the fen, each tax of each line on its own (tariff, consumption tax and
VAT are separate amounts on the customs declaration). Intermediate amounts stay exact, so VAT is computed
from the unrounded composite price.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from flashport.domain.catalog import TaxCategory
from flashport.domain.errors import FieldProblem, InvalidInput
from flashport.domain.money import round_fen


class TaxRegime(enum.StrEnum):
    CROSS_BORDER = "cross_border"  # within the limits: 0 tariff, 70% of VAT and consumption tax
    GENERAL_TRADE = "general_trade"  # one indivisible item above the single-transaction limit: all in full


@dataclass(frozen=True)
class TaxRates:
    """Statutory rates (settings, because the rules change)."""

    vat: Decimal = Decimal("0.13")
    reduced_vat: Decimal = Decimal("0.09")
    consumption_tax: Decimal = Decimal("0.15")
    cross_border_share: Decimal = Decimal("0.70")
    general_trade_tariff: Decimal = Decimal("0")

    def vat_for(self, category: TaxCategory) -> Decimal:
        return self.reduced_vat if category is TaxCategory.REDUCED_VAT else self.vat

    def consumption_tax_for(self, category: TaxCategory) -> Decimal:
        return self.consumption_tax if category is TaxCategory.CONSUMPTION_TAX else Decimal(0)


@dataclass(frozen=True)
class TaxableLine:
    line_no: int
    goods_fen: int
    category: TaxCategory


@dataclass(frozen=True)
class LineTax:
    line_no: int
    category: TaxCategory
    base_fen: int
    tariff_fen: int
    consumption_tax_fen: int
    vat_fen: int

    @property
    def tax_fen(self) -> int:
        return self.tariff_fen + self.consumption_tax_fen + self.vat_fen


@dataclass(frozen=True)
class Assessment:
    regime: TaxRegime
    goods_fen: int
    freight_fen: int
    discount_fen: int
    lines: tuple[LineTax, ...]

    @property
    def tax_fen(self) -> int:
        return sum(line.tax_fen for line in self.lines)

    @property
    def transaction_value_fen(self) -> int:
        return transaction_value_fen(self.goods_fen, self.freight_fen, self.discount_fen)

    @property
    def total_fen(self) -> int:
        """What the buyer pays (``acturalPaid``): goods + freight + tax - discount."""
        return self.goods_fen + self.freight_fen + self.tax_fen - self.discount_fen


def transaction_value_fen(goods_fen: int, freight_fen: int, discount_fen: int) -> int:
    """The actual transaction price: the tax base, and the value the limits are measured in."""
    if discount_fen > goods_fen + freight_fen:
        raise InvalidInput(
            "the discount is larger than the order",
            code="invalid_discount",
            details=[FieldProblem("discount", "at most the goods value plus freight")],
        )
    return goods_fen + freight_fen - discount_fen


def tax_line(
    line_no: int, category: TaxCategory, base_fen: int, rates: TaxRates, regime: TaxRegime
) -> LineTax:
    full = regime is TaxRegime.GENERAL_TRADE
    share = Decimal(1) if full else rates.cross_border_share
    base = Decimal(base_fen)
    tariff = base * rates.general_trade_tariff if full else Decimal(0)
    composite = (base + tariff) / (1 - rates.consumption_tax_for(category))
    return LineTax(
        line_no=line_no,
        category=category,
        base_fen=base_fen,
        tariff_fen=round_fen(tariff),
        consumption_tax_fen=round_fen(composite * rates.consumption_tax_for(category) * share),
        vat_fen=round_fen(composite * rates.vat_for(category) * share),
    )


def share_out(amount_fen: int, weights: Sequence[int]) -> list[int]:
    """Split whole fen in proportion to ``weights``: each gets its floor, and the fen left over go to
    the largest fractional remainders (earlier lines first on ties), so the parts add up exactly."""
    total = sum(weights)
    if amount_fen == 0 or total == 0:
        return [0] * len(weights)
    parts = [amount_fen * w // total for w in weights]
    left = amount_fen - sum(parts)
    by_remainder = sorted(range(len(weights)), key=lambda i: (-(amount_fen * weights[i] % total), i))
    for i in by_remainder[:left]:
        parts[i] += 1
    return parts


def assess(
    lines: Sequence[TaxableLine],
    *,
    freight_fen: int,
    discount_fen: int,
    rates: TaxRates,
    regime: TaxRegime,
) -> Assessment:
    goods = sum(line.goods_fen for line in lines)
    transaction_value_fen(goods, freight_fen, discount_fen)  # refuses a discount larger than the order
    weights = [line.goods_fen for line in lines]
    freights, discounts = share_out(freight_fen, weights), share_out(discount_fen, weights)
    taxed = tuple(
        tax_line(line.line_no, line.category, line.goods_fen + freight - discount, rates, regime)
        for line, freight, discount in zip(lines, freights, discounts, strict=True)
    )
    return Assessment(regime, goods, freight_fen, discount_fen, taxed)
