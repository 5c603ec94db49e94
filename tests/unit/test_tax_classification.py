"""Which rates a product pays: operators' rules by HS prefix or tax category, then built-in rates."""

from decimal import Decimal

import pytest

from flashport.domain.catalog import TaxCategory
from flashport.domain.errors import InvalidInput
from flashport.domain.tax import MeasureUnit, NetContent
from flashport.domain.tax_classes import builtin_classes, check_rule, classify, net_content

BUILTIN = builtin_classes(Decimal("0.13"), Decimal("0.09"), Decimal("0.15"))


def _rule(**changes: object):  # type: ignore[no-untyped-def]
    fields: dict[str, object] = {
        "hs_prefix": "3304",
        "tax_category": None,
        "label": "Beauty or make-up preparations",
        "vat_rate": "0.13",
        "consumption_tax_rate": "0.15",
        "tariff_rate": "0.05",
        "threshold_per_ml_or_gram_fen": 1_000,
        "threshold_per_piece_fen": 1_500,
    }
    return check_rule(**{**fields, **changes})  # type: ignore[arg-type]


def test_the_longest_hs_prefix_wins_then_the_category_rule_then_the_built_in_rates() -> None:
    broad = _rule(hs_prefix="33", tariff_rate="0.08", label="Essential oils and cosmetics")
    narrow = _rule()
    honey = _rule(
        hs_prefix=None,
        tax_category="reduced_vat",
        vat_rate="0.09",
        consumption_tax_rate="0",
        tariff_rate=None,
        threshold_per_ml_or_gram_fen=None,
        threshold_per_piece_fen=None,
        label="Foods",
    )
    rules = [broad, narrow, honey]
    assert classify("3304990099", TaxCategory.GENERAL, rules, BUILTIN).key == "hs:3304"
    assert classify("3304990099", TaxCategory.GENERAL, rules, BUILTIN).tariff == Decimal("0.05")
    assert classify("3303000000", TaxCategory.GENERAL, rules, BUILTIN).key == "hs:33"
    assert classify("0409000000", TaxCategory.REDUCED_VAT, rules, BUILTIN).key == "reduced_vat"
    fallback = classify("1901101000", TaxCategory.GENERAL, rules, BUILTIN)
    assert (fallback.key, fallback.vat, fallback.tariff) == ("general", Decimal("0.13"), None)


def test_the_built_in_consumption_tax_category_has_the_high_end_cosmetics_threshold() -> None:
    cosmetics = BUILTIN[TaxCategory.CONSUMPTION_TAX]
    assert cosmetics.threshold is not None
    assert (cosmetics.threshold.per_ml_or_gram_fen, cosmetics.threshold.per_piece_fen) == (1_000, 1_500)
    assert cosmetics.consumption_tax == Decimal("0.15")


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"hs_prefix": "33A4"}, "hs_prefix"),
        ({"hs_prefix": "3"}, "hs_prefix"),
        ({"tax_category": "general"}, "hs_prefix"),  # both keys
        ({"hs_prefix": None}, "hs_prefix"),  # neither
        ({"vat_rate": "13"}, "vat_rate"),  # 1300 %: a percentage where a fraction was meant
        ({"vat_rate": "-0.1"}, "vat_rate"),
        ({"vat_rate": "0.123456"}, "vat_rate"),
        ({"vat_rate": None}, "vat_rate"),
        ({"consumption_tax_rate": "abc"}, "consumption_tax_rate"),
        ({"threshold_per_piece_fen": None}, "threshold_per_piece_fen"),
        ({"threshold_per_ml_or_gram_fen": 0}, "threshold_per_ml_or_gram_fen"),
        ({"consumption_tax_rate": "0"}, "consumption_tax_rate"),  # a threshold without the tax
        ({"label": " "}, "label"),
    ],
)
def test_a_bad_rule_is_refused_naming_the_field(changes: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidInput) as error:
        _rule(**changes)
    assert error.value.code == "invalid_tax_rule"
    assert field in [problem.field for problem in error.value.details]


def test_a_category_rule_cannot_carry_a_tariff() -> None:
    with pytest.raises(InvalidInput) as error:
        _rule(
            hs_prefix=None,
            tax_category="general",
            consumption_tax_rate="0",
            threshold_per_ml_or_gram_fen=None,
            threshold_per_piece_fen=None,
        )
    assert [p.field for p in error.value.details] == ["tariff_rate"]


def test_net_content_is_an_amount_and_a_unit_or_nothing() -> None:
    assert net_content("50", "ml") == NetContent(Decimal(50), MeasureUnit.MILLILITRE)
    assert net_content(None, None) is None
    for amount, unit in (("0", "ml"), ("50", "litre"), ("1.0001", "g"), (None, "g")):
        with pytest.raises(InvalidInput) as error:
            net_content(amount, unit)
        assert error.value.code == "invalid_net_content"
