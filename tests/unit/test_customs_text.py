"""The entry rules of issue 14 point 5, pure: what a customs message can carry (characters, lengths,
origin countries), on the catalog, identity and consignee rules that apply them."""

from __future__ import annotations

from typing import Any

import pycountry
import pytest

from flashport import demo
from flashport.adapters.reference import packaged_positive_list
from flashport.ceb.codes import CUSTOMS_COUNTRY_CODES
from flashport.domain import catalog as rules
from flashport.domain.customs_text import (
    CharacterProblem,
    check_carriable,
    first_bad_character,
    trimmed_carriable,
)
from flashport.domain.errors import InvalidInput
from flashport.domain.identity import check_consignee, normalise_person_name

ADDRESS = "浙江省杭州市西湖区文三路 90 号"


# --- characters ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("character", "problem"),
    [
        ("\x00", CharacterProblem.NOT_XML),  # NUL: also refused by PostgreSQL text
        ("\x07", CharacterProblem.NOT_XML),  # BEL
        ("\x08", CharacterProblem.NOT_XML),  # the last C0 control before tab
        ("\x0b", CharacterProblem.NOT_XML),  # vertical tab: whitespace to Python, not a Char to XML
        ("\x0c", CharacterProblem.NOT_XML),
        ("\x0e", CharacterProblem.NOT_XML),  # the first C0 control after CR
        ("\x1f", CharacterProblem.NOT_XML),  # the last C0 control
        ("\ud800", CharacterProblem.NOT_XML),  # a lone high surrogate, as JSON "\ud800" decodes
        ("\udfff", CharacterProblem.NOT_XML),  # a lone low surrogate
        ("\ufffe", CharacterProblem.NOT_XML),
        ("\uffff", CharacterProblem.NOT_XML),
        ("\x7f", CharacterProblem.CONTROL),  # DEL
        ("\x80", CharacterProblem.CONTROL),  # the first C1 control
        ("\x85", CharacterProblem.CONTROL),  # NEL
        ("\x9f", CharacterProblem.CONTROL),  # the last C1 control
        ("\t", CharacterProblem.LINE_BREAK),
        ("\n", CharacterProblem.LINE_BREAK),
        ("\r", CharacterProblem.LINE_BREAK),
        ("\u2028", CharacterProblem.LINE_BREAK),
        ("\u2029", CharacterProblem.LINE_BREAK),
    ],
)
def test_each_class_of_bad_character_is_found_with_its_position(
    character: str, problem: CharacterProblem
) -> None:
    bad = first_bad_character(f"李娜{character}x")
    assert bad is not None
    assert (bad.position, bad.code_point, bad.problem) == (3, ord(character), problem)


@pytest.mark.parametrize(
    "character",
    [" ", "~", "\xa0", "\xff", "\ud7ff", "\ue000", "\ufffd", "\U00010000", "\U0001f600", "\U00020000", "·"],
)
def test_characters_at_the_edges_of_what_xml_carries_are_accepted(character: str) -> None:
    assert first_bad_character(f"a{character}b") is None


@pytest.mark.parametrize("character", ["\t", "\n", "\r", "\u2028", "\u2029"])
def test_a_multi_line_field_carries_tabs_and_line_breaks(character: str) -> None:
    assert first_bad_character(f"line one{character}line two", multiline=True) is None


@pytest.mark.parametrize("character", ["\x00", "\x07", "\x7f", "\x85", "\ud800", "\uffff"])
def test_a_multi_line_field_still_refuses_control_and_non_xml_characters(character: str) -> None:
    assert first_bad_character(f"line one\n{character}", multiline=True) is not None


def test_the_refusal_names_field_character_and_position_but_never_the_value() -> None:
    with pytest.raises(InvalidInput) as error:
        check_carriable("11010519491231002X\x00", field="consignee_name")
    assert error.value.code == "invalid_characters"
    [detail] = error.value.details
    assert detail.field == "consignee_name"
    assert "U+0000" in detail.message and "character 19" in detail.message
    assert "11010519491231002X" not in error.value.message and "11010519491231002X" not in detail.message


def test_trimming_drops_line_breaks_at_the_ends_but_never_control_characters() -> None:
    assert trimmed_carriable(" \n李娜\t ", field="name") == "李娜"
    for garbled in ("\x1f李娜", "李娜\x1c", "\x0b李娜"):  # whitespace to str.strip(), garbage to XML
        with pytest.raises(InvalidInput) as error:
            trimmed_carriable(garbled, field="name")
        assert error.value.code == "invalid_characters"
    with pytest.raises(InvalidInput):
        trimmed_carriable("李\n娜", field="name")


# --- names, identities, consignees -----------------------------------------------------------------


@pytest.mark.parametrize("name", ["李\x00娜", "李娜\x07", "\x1b李娜", "李\t娜", "Zhang\nSan", "李\ufffe娜"])
def test_a_name_with_a_control_character_or_a_line_break_is_refused_as_such(name: str) -> None:
    with pytest.raises(InvalidInput) as error:
        normalise_person_name(name, field="consignee_name")
    assert error.value.code == "invalid_characters"
    assert [d.field for d in error.value.details] == ["consignee_name"]


@pytest.mark.parametrize(
    ("field", "changes"),
    [
        ("consignee_name", {"name": "李\x07娜"}),
        ("consignee_phone", {"phone": "138\x0000138000"}),
        ("consignee_phone", {"phone": "138\n0013 8000"}),
        ("consignee_address", {"address": "文三路\x00 90 号"}),
        ("consignee_address", {"address": "文三路\x85 90 号"}),
        ("consignee_address", {"address": "文三路\ud83d 90 号"}),
        ("consignee_district", {"district": "330106\x00"}),
    ],
)
def test_every_consignee_field_refuses_what_xml_cannot_carry(field: str, changes: dict[str, Any]) -> None:
    given: dict[str, Any] = {"name": "李娜", "phone": "13800138000", "address": ADDRESS, "district": None}
    with pytest.raises(InvalidInput) as error:
        check_consignee(**{**given, **changes})
    assert error.value.code == "invalid_characters"
    assert [d.field for d in error.value.details] == [field]


def test_an_address_typed_over_several_lines_is_folded_to_one() -> None:
    consignee = check_consignee("李娜", "13800138000", "浙江省杭州市\r\n西湖区\t文三路\u2028 90 号\n", None)
    assert consignee.address == "浙江省杭州市 西湖区 文三路 90 号"


def test_the_address_limit_counts_characters_after_folding() -> None:
    assert check_consignee("李娜", "13800138000", "路" * 100 + "\n\n" + "路" * 99, None).address == (
        "路" * 100 + " " + "路" * 99
    )
    with pytest.raises(InvalidInput) as error:
        check_consignee("李娜", "13800138000", "路" * 100 + "\n" + "路" * 100, None)
    assert error.value.code == "invalid_address"


# --- the catalog -----------------------------------------------------------------------------------


def product(**overrides: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "title": "Aptamil Pronutra 1, 800 g",
        "declared_name": "爱他美婴儿配方奶粉1段",
        "images": ["https://img.example.com/apt.jpg"],
        "origin_country": "DE",
        "hs_code": "0402290000",
        "legal_unit": "035",
        "tax_category": "reduced_vat",
        "codable_origins": CUSTOMS_COUNTRY_CODES,
    }
    return {**fields, **overrides}


def sku(**overrides: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "code": "APT-1-800",
        "title": "800 g tin",
        "original_price": "129.00",
        "weight_grams": 1100,
        "unit": "122",
        "gmodel": "品牌:爱他美|规格:800克/罐|成分:脱脂乳、乳糖",
        "net_content": "800",
        "net_content_unit": "g",
        "net_weight_grams": 800,
        "packaging_weight_grams": 300,
    }
    return {**fields, **overrides}


def test_an_origin_customs_cannot_code_is_refused_by_name() -> None:
    with pytest.raises(InvalidInput) as error:
        rules.product_record(**product(origin_country="br"))
    assert error.value.code == "origin_not_declarable"
    assert "Brazil (BR)" in error.value.message
    [detail] = error.value.details
    assert detail.field == "origin_country" and "Brazil (BR)" in detail.message


def test_an_unknown_origin_is_still_an_invalid_country() -> None:
    with pytest.raises(InvalidInput) as error:
        rules.product_record(**product(origin_country="ZZ"))
    assert error.value.code == "invalid_country"


def test_an_origin_is_declarable_exactly_when_customs_has_a_code_for_it() -> None:
    for country in pycountry.countries:
        try:
            rules.product_record(**product(origin_country=country.alpha_2))
        except InvalidInput as error:
            assert error.code == "origin_not_declarable" and country.alpha_2 not in CUSTOMS_COUNTRY_CODES
        else:
            assert country.alpha_2 in CUSTOMS_COUNTRY_CODES


def test_an_overseas_warehouse_must_be_in_a_country_customs_can_code() -> None:
    fields = {"code": "SP-1", "name": "Sao Paulo hub", "kind": "overseas"}
    with pytest.raises(InvalidInput) as error:
        rules.warehouse_record(**fields, country="BR", codable_countries=CUSTOMS_COUNTRY_CODES)
    assert error.value.code == "country_not_declarable"
    assert [d.field for d in error.value.details] == ["country"]
    record = rules.warehouse_record(**fields, country="US", codable_countries=CUSTOMS_COUNTRY_CODES)
    assert record["country"] == "US"


def test_a_brand_may_come_from_anywhere_its_country_is_never_declared() -> None:
    assert rules.brand_record(name="Natura", country="BR")["country"] == "BR"


def test_the_demo_catalog_passes_the_entry_checks() -> None:
    listed = packaged_positive_list().goods
    for row, declared in zip(demo.PRODUCTS, demo.DECLARED, strict=True):
        brand, country, _, title, spec, hs, unit, tax, price, grams, _, _ = row
        name, gmodel, sale_unit, content, content_unit, net, packaging = declared
        rules.brand_record(name=brand, country=country)
        record = rules.product_record(
            **product(
                title=title,
                declared_name=name,
                origin_country=country,
                hs_code=hs,
                legal_unit=unit,
                tax_category=tax,
            )
        )
        assert listed[hs].legal_unit == record["legal_unit"]  # on the positive list, in its legal unit
        sku_record = rules.sku_record(
            **sku(
                title=spec,
                spec=spec,
                original_price=price,
                weight_grams=grams,
                unit=sale_unit,
                gmodel=gmodel,
                net_content=content,
                net_content_unit=content_unit,
                net_weight_grams=net,
                packaging_weight_grams=packaging,
            )
        )
        assert net + packaging <= grams  # the shipping weight holds the goods and their packaging
        assert sku_record["unit"] != "007" or hs.startswith("85")  # tins and jars are not "pieces"
    for warehouse in demo.WAREHOUSES:
        rules.warehouse_record(**warehouse, codable_countries=CUSTOMS_COUNTRY_CODES)


def test_titles_are_bounded_by_the_customs_schemas_250_characters() -> None:
    assert rules.product_record(**product(title="奶" * 250))["title"] == "奶" * 250
    assert rules.sku_record(**sku(title="罐" * 250))["title"] == "罐" * 250
    for refused in (
        lambda: rules.product_record(**product(title="奶" * 251)),
        lambda: rules.sku_record(**sku(title="罐" * 251)),
    ):
        with pytest.raises(InvalidInput) as error:
            refused()
        assert error.value.code == "too_long" and error.value.details[0].field == "title"
        assert "250" in error.value.details[0].message


def test_a_warehouse_name_is_bounded_by_the_schemas_100_characters() -> None:
    fields = {"code": "NB-1", "kind": "bonded", "customs_district": "3105", "area_code": "3105W60001"}
    record = rules.warehouse_record(**fields, name="仓" * 100, codable_countries=CUSTOMS_COUNTRY_CODES)
    assert record["name"] == "仓" * 100
    with pytest.raises(InvalidInput) as error:
        rules.warehouse_record(**fields, name="仓" * 101, codable_countries=CUSTOMS_COUNTRY_CODES)
    assert error.value.code == "too_long"


@pytest.mark.parametrize(
    ("build", "field"),
    [
        (lambda: rules.product_record(**product(title="Aptamil\x00")), "title"),
        (lambda: rules.product_record(**product(title="Aptamil\n1")), "title"),
        (lambda: rules.product_record(**product(images=["https://x.example/\x00.jpg"])), "images.0"),
        (lambda: rules.sku_record(**sku(title="800\x07g")), "title"),
        (lambda: rules.sku_record(**sku(spec="800 g\x1b[31m")), "spec"),
        (lambda: rules.sku_record(**sku(code="APT\x00")), "code"),
        (lambda: rules.brand_record(name="Apta\x7fmil", country="DE"), "name"),
        (lambda: rules.supplier_record(name="Maison\x00", country="FR"), "name"),
    ],
)
def test_catalog_texts_refuse_what_xml_cannot_carry(build: Any, field: str) -> None:
    with pytest.raises(InvalidInput) as error:
        build()
    assert error.value.code == "invalid_characters"
    assert [d.field for d in error.value.details] == [field]


def test_descriptions_keep_their_line_breaks_but_not_control_characters() -> None:
    assert rules.product_record(**product(description="Stage 1.\nFrom birth."))["description"] == (
        "Stage 1.\nFrom birth."
    )
    with pytest.raises(InvalidInput) as error:
        rules.product_record(**product(description="Stage 1.\n\x00"))
    assert error.value.code == "invalid_characters"


def test_several_bad_fields_are_reported_together() -> None:
    with pytest.raises(InvalidInput) as error:
        rules.product_record(**product(title="A\x00", origin_country="BR"))
    assert error.value.code == "invalid_fields"
    assert [d.field for d in error.value.details] == ["title", "origin_country"]
