"""Tax classification: which rates a product pays (docs/tax-and-limits.md, "Classification").

Operators keep one rule per HS-code prefix (2 to 10 digits: ``3304`` covers every beauty product) or per
tax category (``general``, ``reduced_vat``, ``consumption_tax``). A product pays the rule of the longest
prefix of its HS code, else the rule of its tax category, else the built-in rates of its category (the
settings' VAT and consumption-tax rates, with the high-end cosmetics threshold on ``consumption_tax``).
Only an HS rule can carry the goods' own tariff: general trade refuses a product without one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from flashport.domain.catalog import TaxCategory
from flashport.domain.errors import FieldProblem, InvalidInput
from flashport.domain.tax import ConsumptionThreshold, MeasureUnit, NetContent, TaxClass

HS_PREFIX = re.compile(r"^\d{2,10}$")
MAX_LABEL = 100


@dataclass(frozen=True)
class TaxRule:
    """One operator-maintained classification: by HS prefix or by tax category, never both."""

    hs_prefix: str | None
    tax_category: TaxCategory | None
    label: str
    vat_rate: Decimal
    consumption_tax_rate: Decimal
    tariff_rate: Decimal | None
    threshold_per_ml_or_gram_fen: int | None
    threshold_per_piece_fen: int | None

    @property
    def key(self) -> str:
        return f"hs:{self.hs_prefix}" if self.hs_prefix else str(self.tax_category)

    def tax_class(self) -> TaxClass:
        threshold = None
        if self.threshold_per_ml_or_gram_fen is not None and self.threshold_per_piece_fen is not None:
            threshold = ConsumptionThreshold(self.threshold_per_ml_or_gram_fen, self.threshold_per_piece_fen)
        return TaxClass(self.key, self.vat_rate, self.consumption_tax_rate, self.tariff_rate, threshold)


def builtin_classes(vat: Decimal, reduced_vat: Decimal, consumption_tax: Decimal) -> dict[str, TaxClass]:
    """The rates of each tax category when no operator rule covers a product (no tariff on file)."""
    return {
        TaxCategory.GENERAL: TaxClass(TaxCategory.GENERAL.value, vat),
        TaxCategory.REDUCED_VAT: TaxClass(TaxCategory.REDUCED_VAT.value, reduced_vat),
        TaxCategory.CONSUMPTION_TAX: TaxClass(
            TaxCategory.CONSUMPTION_TAX.value, vat, consumption_tax, None, ConsumptionThreshold()
        ),
    }


def classify(
    hs_code: str, category: TaxCategory, rules: Iterable[TaxRule], builtin: Mapping[str, TaxClass]
) -> TaxClass:
    """The tax class of a product: longest matching HS prefix, then its category's rule, then built-in."""
    best: TaxRule | None = None
    by_category: TaxRule | None = None
    for rule in rules:
        if rule.hs_prefix is not None and hs_code.startswith(rule.hs_prefix):
            if best is None or len(rule.hs_prefix) > len(best.hs_prefix or ""):
                best = rule
        elif rule.tax_category is category:
            by_category = rule
    chosen = best or by_category
    return chosen.tax_class() if chosen is not None else builtin[category]


def _rate(
    value: object, field: str, problems: list[FieldProblem], *, optional: bool = False
) -> Decimal | None:
    if value is None or value == "":
        if not optional:
            problems.append(FieldProblem(field, "required: a fraction such as 0.13 for 13%"))
        return None
    try:
        rate = Decimal(str(value))
    except InvalidOperation:
        problems.append(FieldProblem(field, "a number such as 0.13 for 13%"))
        return None
    if not rate.is_finite() or not 0 <= rate < 1 or rate != rate.quantize(Decimal("0.0001")):
        problems.append(FieldProblem(field, "a fraction from 0 up to (not including) 1, at most 4 decimals"))
        return None
    return rate


def _fen(value: object, field: str, problems: list[FieldProblem]) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        problems.append(FieldProblem(field, "a whole number of fen above 0, e.g. 1000 for ¥10.00"))
        return None
    return value


def check_rule(
    *,
    hs_prefix: str | None,
    tax_category: str | None,
    label: str,
    vat_rate: object,
    consumption_tax_rate: object,
    tariff_rate: object,
    threshold_per_ml_or_gram_fen: object,
    threshold_per_piece_fen: object,
) -> TaxRule:
    """Validate an operator's rule, naming every bad field at once (``invalid_tax_rule``)."""
    problems: list[FieldProblem] = []
    category = None
    if (hs_prefix is None) == (tax_category is None):
        problems.append(FieldProblem("hs_prefix", "give either hs_prefix or tax_category, not both"))
    elif hs_prefix is not None and not HS_PREFIX.match(hs_prefix):
        problems.append(FieldProblem("hs_prefix", "2 to 10 digits of the HS code, e.g. 3304"))
    elif tax_category is not None:
        try:
            category = TaxCategory(tax_category)
        except ValueError:
            allowed = ", ".join(c.value for c in TaxCategory)
            problems.append(FieldProblem("tax_category", f"one of {allowed}"))
    label = label.strip()
    if not 1 <= len(label) <= MAX_LABEL:
        problems.append(FieldProblem("label", f"1 to {MAX_LABEL} characters saying what the goods are"))
    vat = _rate(vat_rate, "vat_rate", problems)
    excise = _rate(consumption_tax_rate, "consumption_tax_rate", problems)
    tariff = _rate(tariff_rate, "tariff_rate", problems, optional=True)
    if tariff is not None and hs_prefix is None:
        problems.append(
            FieldProblem("tariff_rate", "a tariff belongs to an HS code: set it on an hs_prefix rule")
        )
    per_gram = _fen(threshold_per_ml_or_gram_fen, "threshold_per_ml_or_gram_fen", problems)
    per_piece = _fen(threshold_per_piece_fen, "threshold_per_piece_fen", problems)
    if (per_gram is None) != (per_piece is None):
        problems.append(FieldProblem("threshold_per_piece_fen", "give both thresholds or neither"))
    if per_gram is not None and not excise:
        problems.append(FieldProblem("consumption_tax_rate", "a threshold needs a consumption-tax rate"))
    if problems:
        raise InvalidInput("the tax rule is not valid", code="invalid_tax_rule", details=problems)
    assert vat is not None and excise is not None
    return TaxRule(hs_prefix, category, label, vat, excise, tariff, per_gram, per_piece)


# The catalog states net content as the label does (g, kg, ml, l, pcs: domain/customs_goods.ContentUnit);
# the thresholds are per gram, per millilitre or per piece.
_LABEL_UNITS: dict[str, tuple[Decimal, MeasureUnit]] = {
    "g": (Decimal(1), MeasureUnit.GRAM),
    "kg": (Decimal(1000), MeasureUnit.GRAM),
    "ml": (Decimal(1), MeasureUnit.MILLILITRE),
    "l": (Decimal(1000), MeasureUnit.MILLILITRE),
    "pcs": (Decimal(1), MeasureUnit.PIECE),
}


def label_content(amount: Decimal | None, unit: str | None) -> NetContent | None:
    """An SKU's net content as the catalog keeps it (``0.9`` ``kg``), in the threshold's measure
    (``900`` g); None when it is not on file or in a unit the thresholds do not measure."""
    if amount is None or unit is None or unit not in _LABEL_UNITS:
        return None
    factor, measure = _LABEL_UNITS[unit]
    return NetContent(Decimal(amount) * factor, measure)


def net_content(amount: object, unit: object) -> NetContent | None:
    """An SKU's net content per unit sold (``50`` ``ml``), both given or neither."""
    if amount is None and unit is None:
        return None
    problems: list[FieldProblem] = []
    try:
        value = Decimal(str(amount))
        if not value.is_finite() or value <= 0 or value != value.quantize(Decimal("0.001")):
            raise InvalidOperation
    except InvalidOperation:
        problems.append(FieldProblem("net_content", "a positive amount with at most 3 decimals, e.g. 50"))
    try:
        measure = MeasureUnit(str(unit))
    except ValueError:
        allowed = ", ".join(u.value for u in MeasureUnit)
        problems.append(FieldProblem("net_content_unit", f"one of {allowed}"))
    if problems:
        raise InvalidInput("the net content is not valid", code="invalid_net_content", details=problems)
    return NetContent(value, measure)
