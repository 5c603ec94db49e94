from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from flashport.ceb.codes import CUSTOMS_COUNTRY_CODES
from flashport.domain import catalog as rules
from flashport.domain.accounts import Principal, Role
from flashport.domain.catalog import StockLevel, TaxCategory, WarehouseKind
from flashport.domain.errors import Conflict, Forbidden, InvalidInput

OPERATOR = Principal(1, Role.OPERATOR)
SUPPLIER_7 = Principal(2, Role.SUPPLIER, supplier_id=7)
BUYER = Principal(3, Role.BUYER)


def fields_of(exc: pytest.ExceptionInfo[InvalidInput]) -> list[str]:
    return [d.field for d in exc.value.details]


def product(**overrides: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "title": "Aptamil Pronutra 1, 800 g",
        "declared_name": "爱他美婴儿配方奶粉1段",
        "images": ["https://img.example.com/apt.jpg"],
        "origin_country": "de",
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
        "original_price": Decimal("129.00"),
        "weight_grams": 1100,
        "unit": "122",
        "gmodel": "品牌:爱他美|规格:800克/罐|成分:脱脂乳、乳糖",
        "net_content": "800",
        "net_content_unit": "g",
        "net_weight_grams": 800,
        "packaging_weight_grams": 300,
    }
    return {**fields, **overrides}


def test_brand_record_trims_text_and_upper_cases_the_country() -> None:
    record = rules.brand_record(name="  Aptamil ", country="de", description=" milk ")
    assert record == {
        "name": "Aptamil",
        "country": "DE",
        "description": "milk",
        "logo_url": None,
        "name_zh": "",
        "description_zh": "",
    }


def test_chinese_display_names_are_written_in_chinese() -> None:
    record = rules.brand_record(name="Aptamil", country="DE", name_zh=" 爱他美 ", description_zh="德国品牌")
    assert (record["name_zh"], record["description_zh"]) == ("爱他美", "德国品牌")
    with pytest.raises(InvalidInput) as exc:
        rules.brand_record(name="Aptamil", country="DE", name_zh="Aptamil", description_zh="x" * 5001)
    assert fields_of(exc) == ["name_zh", "description_zh"]
    assert exc.value.code in ("not_chinese", "invalid_fields")


@pytest.mark.parametrize("country", ["XX", "FRA", "", None, "1"])
def test_brand_country_must_be_an_iso_alpha_2_code(country: str | None) -> None:
    with pytest.raises(InvalidInput) as exc:
        rules.brand_record(name="Aptamil", country=country)
    assert fields_of(exc) == ["country"]


def test_every_bad_field_is_reported_at_once() -> None:
    with pytest.raises(InvalidInput) as exc:
        rules.product_record(**product(title=" ", hs_code="0402", legal_unit="kg"))
    assert exc.value.code == "invalid_fields"
    assert fields_of(exc) == ["title", "hs_code", "legal_unit"]
    with pytest.raises(InvalidInput) as exc:
        rules.product_record(**product(title=" ", declared_name="Milk powder"))
    assert fields_of(exc) == ["title", "declared_name"]


def test_a_single_bad_field_keeps_its_specific_code() -> None:
    with pytest.raises(InvalidInput) as exc:
        rules.product_record(**product(hs_code="040229000X"))
    assert exc.value.code == "invalid_hs_code"
    assert fields_of(exc) == ["hs_code"]


def test_product_record_accepts_a_complete_product() -> None:
    record = rules.product_record(**product())
    assert record["origin_country"] == "DE"
    assert record["tax_category"] is TaxCategory.REDUCED_VAT
    assert record["description"] == ""


@pytest.mark.parametrize(
    ("images", "field"),
    [([], "images"), (None, "images"), (["/ok.jpg", " "], "images.1"), (["x" * 501], "images.0")],
)
def test_a_product_needs_one_to_twenty_images_of_at_most_500_characters(
    images: list[str] | None, field: str
) -> None:
    with pytest.raises(InvalidInput) as exc:
        rules.product_record(**product(images=images))
    assert fields_of(exc) == [field]


def test_an_unknown_tax_category_is_refused() -> None:
    with pytest.raises(InvalidInput) as exc:
        rules.product_record(**product(tax_category="luxury"))
    assert exc.value.code == "invalid_tax_category"


def test_sku_price_is_stored_as_exact_fen() -> None:
    assert rules.sku_record(**sku(original_price="129.9"))["original_price_fen"] == 12990
    assert rules.sku_record(**sku(original_price=5))["original_price_fen"] == 500


@pytest.mark.parametrize("price", ["129.001", "0", "0.00", "-1", "abc", None])
def test_sku_price_must_be_above_zero_with_at_most_two_decimals(price: str | None) -> None:
    with pytest.raises(InvalidInput) as exc:
        rules.sku_record(**sku(original_price=price))
    assert exc.value.code == "invalid_money"
    assert fields_of(exc) == ["original_price"]


@pytest.mark.parametrize("weight", [0, -5, None, 1_000_001])
def test_sku_weight_is_a_positive_number_of_grams(weight: int | None) -> None:
    with pytest.raises(InvalidInput) as exc:
        rules.sku_record(**sku(weight_grams=weight))
    assert fields_of(exc) == ["weight_grams"]


def test_sku_barcode_is_optional_but_must_be_a_gtin_when_given() -> None:
    assert rules.sku_record(**sku(barcode=" "))["barcode"] is None
    assert rules.sku_record(**sku(barcode="4008976022343"))["barcode"] == "4008976022343"
    with pytest.raises(InvalidInput) as exc:
        rules.sku_record(**sku(barcode="ABC123"))
    assert fields_of(exc) == ["barcode"]


def test_skus_given_with_a_product_are_reported_by_position() -> None:
    with pytest.raises(InvalidInput) as exc:
        rules.new_sku_records([sku(), sku(code="B", unit="7")])
    assert fields_of(exc) == ["skus.1.unit"]


def test_skus_given_with_a_product_must_not_repeat_a_code() -> None:
    with pytest.raises(InvalidInput) as exc:
        rules.new_sku_records([sku(), sku(title="other")])
    assert exc.value.code == "sku_code_repeated"
    assert fields_of(exc) == ["skus.1.code"]


def test_a_bonded_warehouse_is_in_china_with_a_customs_district() -> None:
    record = rules.warehouse_record(
        code="nb-1",
        name="Ningbo",
        kind="bonded",
        customs_district="3105",
        area_code="3105w60001",
        codable_countries=CUSTOMS_COUNTRY_CODES,
    )
    assert record["code"] == "NB-1"
    assert record["area_code"] == "3105W60001"
    assert record["kind"] is WarehouseKind.BONDED
    assert record["country"] == "CN"


@pytest.mark.parametrize(
    ("district", "country", "field"),
    [(None, None, "customs_district"), ("31", None, "customs_district"), ("3105", "FR", "country")],
)
def test_a_bonded_warehouse_without_district_or_outside_china_is_refused(
    district: str | None, country: str | None, field: str
) -> None:
    with pytest.raises(InvalidInput) as exc:
        rules.warehouse_record(
            code="NB",
            name="N",
            kind="bonded",
            customs_district=district,
            country=country,
            area_code="3105W60001",
            codable_countries=CUSTOMS_COUNTRY_CODES,
        )
    assert fields_of(exc) == [field]


@pytest.mark.parametrize(
    ("district", "country", "field"),
    [(None, None, "country"), (None, "CN", "country"), ("3105", "FR", "customs_district")],
)
def test_an_overseas_warehouse_is_abroad_and_has_no_customs_district(
    district: str | None, country: str | None, field: str
) -> None:
    with pytest.raises(InvalidInput) as exc:
        rules.warehouse_record(
            code="FR-1",
            name="Lyon",
            kind="overseas",
            customs_district=district,
            country=country,
            codable_countries=CUSTOMS_COUNTRY_CODES,
        )
    assert fields_of(exc) == [field]


def test_supplier_contact_email_is_normalised_or_reported_on_its_field() -> None:
    record = rules.supplier_record(name="Maison", country="fr", contact_email=" Sales@Maison.FR ")
    assert record["contact_email"] == "sales@maison.fr"
    with pytest.raises(InvalidInput) as exc:
        rules.supplier_record(name="Maison", country="FR", contact_email="not-an-email")
    assert fields_of(exc) == ["contact_email"]


def test_changed_fields_keeps_only_real_changes() -> None:
    stored = {"name": "A", "country": "FR", "tax_category": "general"}
    record = {"name": "A", "country": "DE", "tax_category": TaxCategory.GENERAL}
    assert rules.changed_fields(stored, record) == {"country": "DE"}


def test_a_supplier_user_owns_what_it_creates_and_may_not_name_another_supplier() -> None:
    assert rules.product_owner(SUPPLIER_7, None) == 7
    assert rules.product_owner(SUPPLIER_7, 7) == 7
    with pytest.raises(Forbidden):
        rules.product_owner(SUPPLIER_7, 8)


def test_an_operator_must_name_the_owning_supplier() -> None:
    assert rules.product_owner(OPERATOR, 8) == 8
    with pytest.raises(InvalidInput) as exc:
        rules.product_owner(OPERATOR, None)
    assert fields_of(exc) == ["supplier_id"]


def test_a_supplier_user_lists_only_its_own_products_and_operators_any() -> None:
    assert rules.visible_supplier(SUPPLIER_7, None) == 7
    assert rules.visible_supplier(OPERATOR, None) is None
    assert rules.visible_supplier(OPERATOR, 8) == 8
    with pytest.raises(Forbidden):
        rules.visible_supplier(SUPPLIER_7, 8)
    with pytest.raises(Forbidden):
        rules.visible_supplier(BUYER, None)


@pytest.mark.parametrize(("limit", "offset"), [(0, 0), (201, 0), (10, -1)])
def test_pages_are_bounded_to_200_rows(limit: int, offset: int) -> None:
    with pytest.raises(InvalidInput):
        rules.page_window(limit, offset)
    assert rules.page_window(200, 0) == (200, 0)


def test_free_stock_is_on_hand_minus_allotted() -> None:
    assert StockLevel(on_hand=10, allotted=4).free == 6


def test_on_hand_may_drop_to_allotted_but_not_below() -> None:
    level = StockLevel(on_hand=10, allotted=4)
    assert rules.set_on_hand(level, 4) == StockLevel(4, 4)
    with pytest.raises(Conflict) as exc:
        rules.set_on_hand(level, 3)
    assert exc.value.code == "stock_below_allotted"


def test_on_hand_is_never_negative() -> None:
    with pytest.raises(InvalidInput) as exc:
        rules.set_on_hand(StockLevel(0, 0), -1)
    assert fields_of(exc) == ["on_hand"]
