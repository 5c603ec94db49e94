"""Goods and people as customs reads them: declared names, gmodel, net content and weights, legal
quantities, the positive list, ID region codes, the payer's name compared exactly, the buyer's phone."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from flashport.adapters.reference import division_codes, packaged_positive_list
from flashport.domain import customs_goods as goods
from flashport.domain.errors import InvalidInput
from flashport.domain.identity import (
    buyer_phone,
    check_consignee,
    check_real_name,
    id_check_character,
    same_declared_name,
)

TODAY = date(2026, 12, 3)


def with_check_digit(first17: str) -> str:
    return first17 + id_check_character(first17)


def test_a_declared_name_must_be_chinese_and_fit_the_schema() -> None:
    assert goods.declared_name("  爱他美  婴儿配方奶粉 ") == "爱他美 婴儿配方奶粉"
    for bad, code in (("Aptamil infant formula", "declared_name_not_chinese"), ("", "missing_field")):
        with pytest.raises(InvalidInput) as error:
            goods.declared_name(bad)
        assert error.value.code == code and error.value.details[0].field == "declared_name"
    with pytest.raises(InvalidInput) as error:
        goods.declared_name("奶" * 251)
    assert error.value.code == "too_long"


def test_gmodel_states_brand_specification_and_composition() -> None:
    assert (
        goods.gmodel(" 品牌:爱他美 | 规格:800克/罐 | 成分:脱脂乳 ") == "品牌:爱他美|规格:800克/罐|成分:脱脂乳"
    )
    for bad in ("爱他美 800g", "品牌:爱他美||成分:脱脂乳", "品牌:爱他美|规格:800克/罐"):
        with pytest.raises(InvalidInput) as error:
            goods.gmodel(bad)
        assert error.value.code == "invalid_gmodel"
    with pytest.raises(InvalidInput) as error:
        goods.gmodel("品牌:a|规格:b|成分:" + "c" * 260)
    assert error.value.code == "too_long"


@pytest.mark.parametrize(
    ("amount", "unit", "expected"),
    [
        ("900", "g", (Decimal("900.000"), goods.ContentUnit.GRAM)),
        ("50", "ML", (Decimal("50.000"), goods.ContentUnit.MILLILITRE)),
    ],
)
def test_net_content_is_a_positive_amount_in_a_label_unit(
    amount: str, unit: str, expected: tuple[Decimal, goods.ContentUnit]
) -> None:
    assert goods.net_content(amount, unit) == expected


@pytest.mark.parametrize(
    ("amount", "unit"), [("0", "g"), ("-5", "g"), ("1.2345", "g"), ("abc", "g"), ("900", "oz")]
)
def test_bad_net_content_is_refused(amount: str, unit: str) -> None:
    with pytest.raises(InvalidInput) as error:
        goods.net_content(amount, unit)
    assert error.value.code == "invalid_net_content"


def test_two_900_gram_tins_declare_1_8_kg_in_kilograms_and_two_in_a_count_unit() -> None:
    tins = goods.GoodsQuantity(
        quantity=2, net_weight_grams=900, net_content=Decimal(900), net_content_unit="g"
    )
    assert goods.legal_quantity("035", tins) == Decimal("1.8")
    assert goods.legal_quantity("036", tins) == Decimal(1800)
    assert goods.legal_quantity("122", tins) == Decimal(2)


def test_wine_is_counted_in_litres_from_its_net_content() -> None:
    bottles = goods.GoodsQuantity(
        quantity=3, net_weight_grams=760, net_content=Decimal(750), net_content_unit="ml"
    )
    assert goods.legal_quantity("095", bottles) == Decimal("2.25")
    assert goods.legal_quantity("035", bottles) == Decimal("2.28")
    with pytest.raises(InvalidInput) as error:
        goods.check_content_fits(("095", "035"), "g", field="net_content_unit")
    assert error.value.code == "net_content_unit_mismatch"
    goods.check_content_fits(("035", None), "g", field="net_content_unit")


def test_area_code_and_record_number_have_the_registrations_shape() -> None:
    assert goods.area_code(" 3105w60001 ") == "3105W60001"
    assert goods.area_code("91330206MA2AFXXX1X") == "91330206MA2AFXXX1X"
    assert goods.area_code("") is None
    with pytest.raises(InvalidInput) as error:
        goods.area_code("NB-BONDED-01")
    assert error.value.code == "invalid_area_code"
    assert goods.record_no("T3105W000001-0001") == "T3105W000001-0001"
    with pytest.raises(InvalidInput):
        goods.record_no("record 1/2")


def test_the_packaged_positive_list_names_its_edition_and_the_legal_units() -> None:
    listed = packaged_positive_list()
    assert listed.edition == "2022-subset-1" and "subset" in listed.source
    assert listed.goods["1901101000"].legal_unit == "035"
    assert listed.goods["8510100000"].legal_unit == "001"  # a shaver is counted in sets (台)
    assert listed.goods["2204210000"].legal_unit == "095"  # wine in litres
    assert "0402900000" not in listed.goods


def test_a_legal_unit_other_than_the_hs_codes_is_refused() -> None:
    line = packaged_positive_list().goods["1901101000"]
    assert goods.resolve_legal_unit(line, None, "e") == "035"
    with pytest.raises(InvalidInput) as error:
        goods.resolve_legal_unit(line, "007", "e")
    assert error.value.code == "legal_unit_mismatch"
    error_value = goods.not_on_positive_list("0402900000", "2022-subset-1")
    assert (
        error_value.code == "hs_code_not_on_positive_list"
        and "2022-subset-1" in error_value.details[0].message
    )


def test_an_edition_refuses_bad_lines_and_codes_given_twice() -> None:
    line = {"hs_code": "1901101000", "name": "配方奶粉", "legal_unit": "035"}
    edition = goods.positive_list("2025-01", "MOF 2025", [line])
    assert edition.goods["1901101000"].second_legal_unit is None
    for lines, field in (
        ([line, line], "goods.1.hs_code"),
        ([{**line, "hs_code": "19011010"}], "goods.0.hs_code"),
        ([{**line, "legal_unit": "kg"}], "goods.0.legal_unit"),
        ([], "goods"),
    ):
        with pytest.raises(InvalidInput) as error:
            goods.positive_list("2025-01", "MOF 2025", lines)
        assert error.value.details[0].field == field
    with pytest.raises(InvalidInput):
        goods.positive_list("2025 01!", "MOF", [line])


def test_the_id_region_must_be_an_administrative_division_current_or_abolished() -> None:
    regions = division_codes()
    assert check_real_name("李娜", "11010519491231002x", TODAY, regions=regions).id_number.endswith("X")
    # 110103 (崇文区) was merged in 2010, but numbers issued there stay valid.
    assert check_real_name("李娜", with_check_digit("11010319800101001"), TODAY, regions=regions)
    for prefix in ("000000", "999999", "110199"):
        with pytest.raises(InvalidInput) as error:
            check_real_name("李娜", with_check_digit(prefix + "19800101001"), TODAY, regions=regions)
        assert error.value.code == "id_region_unknown"
        assert prefix not in error.value.message  # the number is personal data, never echoed


def test_the_payer_name_is_compared_exactly_as_declared() -> None:
    assert same_declared_name(" John Smith ", "John Smith")
    assert same_declared_name("José", "Jose\u0301")  # NFC: the same letters, composed or not
    assert not same_declared_name("JOHN SMITH", "John Smith")
    assert not same_declared_name("李 娜", "李娜")


def test_the_buyers_phone_is_their_own_never_a_strangers() -> None:
    to_herself = check_consignee("李娜", "13800138000", "浙江省杭州市西湖区文三路 90 号", None)
    to_her_mother = check_consignee("王芳", "13900139000", "浙江省杭州市西湖区文三路 90 号", None)
    assert buyer_phone("李娜", "13700137000", to_her_mother) == "13700137000"
    assert buyer_phone("李娜", None, to_herself) == "13800138000"
    with pytest.raises(InvalidInput) as error:
        buyer_phone("李娜", None, to_her_mother)
    assert error.value.code == "buyer_phone_required"
