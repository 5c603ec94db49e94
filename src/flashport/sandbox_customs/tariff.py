"""Customs' own tax assessment of an inventory list (pure): what the tax bill (CEB816) states, and
what the order's ``taxTotal`` must equal.

Rates come from the simulator's tariff, keyed by HS code prefix (the longest prefix wins), not from
anything the declarant says: that is the point of customs computing the tax itself. Per line:

    base            = totalPrice + its share of freight and insurance (by value; a non-cash discount
                      does not lower it)
    tariff          = base x tariff rate                       (general trade only; 0 within the limits)
    composite       = (base + tariff) / (1 - consumption-tax rate)
    consumption tax = composite x consumption-tax rate x share
    VAT             = composite x VAT rate x share             (share: 70% within the limits, 100% else)

each rounded half up to the fen on its own. Consumption tax applies only at or above its threshold,
judged on the line's unit price against its net content: qty1 in the legal unit (kg, g, L, ml: per
gram or millilitre) or, for goods counted in pieces, per piece.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from flashport.sandbox_customs.documents import Line

CROSS_BORDER_SHARE = Decimal("0.7")
# Legal units measuring net content, and how many grams or millilitres one of them is.
CONTENT_UNITS: Mapping[str, Decimal] = {
    "035": Decimal(1000),
    "036": Decimal(1),
    "095": Decimal(1000),
    "096": Decimal(1),
}


@dataclass(frozen=True)
class Rates:
    vat: Decimal = Decimal("0.13")
    consumption: Decimal = Decimal(0)
    # Consumption tax only from this unit price, in fen: per gram/ml (content units), else per piece.
    per_content_threshold_fen: int = 0
    per_piece_threshold_fen: int = 0
    tariff: Decimal = Decimal(0)  # most-favoured-nation rate, charged under general trade only


HIGH_END_COSMETICS = Rates(
    consumption=Decimal("0.15"), per_content_threshold_fen=1000, per_piece_threshold_fen=1500
)
# The simulator's tariff: a short extract, enough for the goods Flashport's demo and tests sell.
TARIFF: Mapping[str, Rates] = {
    "": Rates(),  # general goods: VAT 13%
    "0409": Rates(vat=Decimal("0.09")),  # natural honey: agricultural goods, VAT 9%
    "3303": HIGH_END_COSMETICS,  # perfumes
    "3304": HIGH_END_COSMETICS,  # beauty, make-up and skin-care preparations
    "8510": Rates(tariff=Decimal("0.08")),  # shavers
    "9101": Rates(consumption=Decimal("0.20"), per_piece_threshold_fen=1_000_000),  # high-end watches
    "9102": Rates(consumption=Decimal("0.20"), per_piece_threshold_fen=1_000_000, tariff=Decimal("0.08")),
}


@dataclass(frozen=True)
class LineTax:
    gnum: int
    gcode: str
    base_fen: int  # taxPrice on the bill
    customs_tax_fen: int
    vat_fen: int
    consumption_tax_fen: int

    @property
    def total_fen(self) -> int:
        return self.customs_tax_fen + self.vat_fen + self.consumption_tax_fen


@dataclass(frozen=True)
class Assessment:
    general_trade: bool
    lines: tuple[LineTax, ...]

    @property
    def customs_tax_fen(self) -> int:
        return sum(line.customs_tax_fen for line in self.lines)

    @property
    def vat_fen(self) -> int:
        return sum(line.vat_fen for line in self.lines)

    @property
    def consumption_tax_fen(self) -> int:
        return sum(line.consumption_tax_fen for line in self.lines)

    @property
    def total_fen(self) -> int:
        return self.customs_tax_fen + self.vat_fen + self.consumption_tax_fen


def rates_for(gcode: str) -> Rates:
    for length in range(len(gcode), -1, -1):
        if (found := TARIFF.get(gcode[:length])) is not None:
            return found
    return TARIFF[""]


def _half_up(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _shares(amount: int, weights: Sequence[int]) -> list[int]:
    """``amount`` split by ``weights`` in whole fen, the remainder to the largest fractions first."""
    total = sum(weights)
    if amount == 0 or total == 0:
        return [0] * len(weights)
    parts = [amount * w // total for w in weights]
    order = sorted(range(len(weights)), key=lambda i: (-(amount * weights[i] % total), i))
    for i in order[: amount - sum(parts)]:
        parts[i] += 1
    return parts


def consumption_taxed(line: Line, rates: Rates) -> bool:
    if rates.consumption == 0:
        return False
    per_unit = CONTENT_UNITS.get(line.unit1 or "")
    if per_unit is not None and line.qty1 and line.qty:
        content = line.qty1 * per_unit / line.qty  # grams or millilitres in one unit sold
        return Decimal(line.price) >= content * rates.per_content_threshold_fen
    return line.price >= rates.per_piece_threshold_fen


def assess(lines: Sequence[Line], *, freight: int, insured_fee: int, general_trade: bool) -> Assessment:
    """The tax of each inventory line; ``general_trade`` for an indivisible item above the limit."""
    extras = _shares(freight + insured_fee, [line.total_price for line in lines])
    share = Decimal(1) if general_trade else CROSS_BORDER_SHARE
    taxed = []
    for line, extra in zip(lines, extras, strict=True):
        rates = rates_for(line.gcode or "")
        base = Decimal(line.total_price + extra)
        tariff = base * rates.tariff if general_trade else Decimal(0)
        consumption = rates.consumption if consumption_taxed(line, rates) else Decimal(0)
        composite = (base + tariff) / (1 - consumption)
        taxed.append(
            LineTax(
                gnum=line.gnum,
                gcode=line.gcode or "",
                base_fen=int(base),
                customs_tax_fen=_half_up(tariff),
                vat_fen=_half_up(composite * rates.vat * share),
                consumption_tax_fen=_half_up(composite * consumption * share),
            )
        )
    return Assessment(general_trade, tuple(taxed))
