"""The import tax of a cross-border order, line by line (docs/tax-and-limits.md).

The base of every tax and of both limits is the dutiable value (完税价格): the actual transaction price,
meaning the retail price of the goods plus freight and insurance, with no tax in it and *before*
non-cash discounts (points, vouchers, virtual currency: the CEB311 ``discount``). A price cut by the
seller is not such a discount: it lowers the retail price itself. Each line's base is its goods plus its
share of freight and insurance. Then, with t, c and v the goods' own tariff, consumption-tax and VAT
rates (:class:`TaxClass`, maintained by operators per HS code or tax category):

    tariff            = base * t
    composite price   = (base + tariff) / (1 - c)      consumption tax is levied on a price containing it
    consumption tax   = composite * c
    VAT               = composite * v                  VAT's base includes the full consumption tax

Within the limits (``CROSS_BORDER``, 财关税〔2016〕18号 and 〔2018〕49号) the tariff is 0 and
consumption tax and VAT are charged at 70% of those amounts; a single indivisible item above the
single-transaction limit (``GENERAL_TRADE``) pays all three in full at the goods' own rates. Goods whose
consumption tax has a threshold (high-end cosmetics: ¥10 per ml or gram, ¥15 per piece) pay it only when
the line's base per unit of net content reaches the threshold; below it they pay VAT alone.

Rounding rule: ROUND_HALF_UP to the fen, each tax of each line on its own (tariff, consumption tax and
VAT are separate amounts on the customs declaration). Intermediate amounts stay exact, so VAT is computed
from the unrounded composite price.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from flashport.domain.errors import Conflict, FieldProblem, InvalidInput
from flashport.domain.money import round_fen


class TaxRegime(enum.StrEnum):
    CROSS_BORDER = "cross_border"  # within the limits: 0 tariff, 70% of VAT and consumption tax
    GENERAL_TRADE = "general_trade"  # one indivisible item above the single-transaction limit: all in full


class MeasureUnit(enum.StrEnum):
    """What a consumption-tax threshold is measured per: the net content of one unit sold."""

    MILLILITRE = "ml"
    GRAM = "g"
    PIECE = "piece"


@dataclass(frozen=True)
class NetContent:
    """The net content of one unit of an SKU (50 ml, 250 g, 10 pieces), as its label states it."""

    amount: Decimal
    unit: MeasureUnit


@dataclass(frozen=True)
class ConsumptionThreshold:
    """The price per unit of net content below which no consumption tax is due (财税〔2016〕103号:
    high-end cosmetics at or above ¥10 per ml or gram, or ¥15 per piece)."""

    per_ml_or_gram_fen: int = 1_000
    per_piece_fen: int = 1_500

    def reached(self, base_fen: int, quantity: int, content: NetContent | None) -> bool:
        """At or above the threshold. Net content unknown: reached, so the tax is never under-declared
        (the importer answers for a shortfall; an operator can give the SKU its net content)."""
        if content is None or content.amount <= 0:
            return True
        per_unit = self.per_piece_fen if content.unit is MeasureUnit.PIECE else self.per_ml_or_gram_fen
        return Decimal(base_fen) >= per_unit * content.amount * quantity


@dataclass(frozen=True)
class TaxClass:
    """The statutory rates of one classification. ``tariff`` is the goods' own (MFN) rate, used only in
    general trade; ``None`` means none is on file, and general trade cannot be priced."""

    key: str  # recorded on each line: a tax category ("consumption_tax") or an HS prefix ("hs:3304")
    vat: Decimal
    consumption_tax: Decimal = Decimal(0)
    tariff: Decimal | None = None
    threshold: ConsumptionThreshold | None = None


@dataclass(frozen=True)
class TaxableLine:
    line_no: int
    goods_fen: int
    tax_class: TaxClass
    quantity: int = 1
    net_content: NetContent | None = None


@dataclass(frozen=True)
class LineTax:
    line_no: int
    category: str  # the key of the tax class applied
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
    insurance_fen: int = 0

    @property
    def tax_fen(self) -> int:
        return sum(line.tax_fen for line in self.lines)

    @property
    def dutiable_value_fen(self) -> int:
        return dutiable_value_fen(self.goods_fen, self.freight_fen, self.insurance_fen)

    @property
    def total_fen(self) -> int:
        """What the buyer pays (``acturalPaid``): goods + freight + tax - non-cash discount."""
        return self.goods_fen + self.freight_fen + self.tax_fen - self.discount_fen


def dutiable_value_fen(goods_fen: int, freight_fen: int, insurance_fen: int = 0) -> int:
    """The dutiable value: retail price of the goods + freight + insurance, no tax, non-cash discounts
    not subtracted. The base of the tax and the value both cross-border limits are measured in; the
    platform (checkout, settlement, the buy path) and the customs simulator all call this."""
    if min(goods_fen, freight_fen, insurance_fen) < 0:
        raise ValueError("goods, freight and insurance are never negative")
    return goods_fen + freight_fen + insurance_fen


def check_discount(discount_fen: int, goods_fen: int, freight_fen: int) -> None:
    """A non-cash discount pays part of the order; it cannot pay more than goods and freight."""
    if not 0 <= discount_fen <= goods_fen + freight_fen:
        raise InvalidInput(
            "the discount is larger than the order",
            code="invalid_discount",
            details=[FieldProblem("discount", "at most the goods value plus freight")],
        )


def tax_line(line: TaxableLine, base_fen: int, share: Decimal, regime: TaxRegime) -> LineTax:
    """The three taxes of one line on ``base_fen``; ``share`` is the cross-border share (70%)."""
    rates, full = line.tax_class, regime is TaxRegime.GENERAL_TRADE
    if full and rates.tariff is None:
        raise Conflict(
            f"no tariff rate is on file for tax class {rates.key}: a single item above the single limit "
            "is imported as general trade and needs the goods' own tariff; an operator must set it",
            code="tariff_rate_unknown",
            details=[FieldProblem("tariff_rate", f"set it on tax class {rates.key}")],
        )
    levied = rates.threshold is None or rates.threshold.reached(base_fen, line.quantity, line.net_content)
    excise = rates.consumption_tax if levied else Decimal(0)
    portion = Decimal(1) if full else share
    base = Decimal(base_fen)
    tariff = base * rates.tariff if full and rates.tariff is not None else Decimal(0)
    composite = (base + tariff) / (1 - excise)
    return LineTax(
        line_no=line.line_no,
        category=rates.key,
        base_fen=base_fen,
        tariff_fen=round_fen(tariff),
        consumption_tax_fen=round_fen(composite * excise * portion),
        vat_fen=round_fen(composite * rates.vat * portion),
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
    share: Decimal,
    regime: TaxRegime,
    insurance_fen: int = 0,
) -> Assessment:
    """Tax every line on its goods plus its share of freight and insurance. The non-cash discount is
    carried to the amount payable but never lowers a base."""
    goods = sum(line.goods_fen for line in lines)
    check_discount(discount_fen, goods, freight_fen)
    weights = [line.goods_fen for line in lines]
    freights, insured = share_out(freight_fen, weights), share_out(insurance_fen, weights)
    taxed = tuple(
        tax_line(line, line.goods_fen + freight + insurance, share, regime)
        for line, freight, insurance in zip(lines, freights, insured, strict=True)
    )
    return Assessment(regime, goods, freight_fen, discount_fen, taxed, insurance_fen)
