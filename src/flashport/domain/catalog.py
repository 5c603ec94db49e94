"""Catalog rules: brands, suppliers, warehouses, products, SKUs and stock. Pure validation, no storage."""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Container, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, ParamSpec, TypeVar, cast

import pycountry

from flashport.domain import customs_goods as goods
from flashport.domain.accounts import CATALOG_STAFF, Principal, normalise_email
from flashport.domain.customs_text import trimmed_carriable
from flashport.domain.errors import Conflict, FieldProblem, Forbidden, InvalidInput
from flashport.domain.money import to_fen
from flashport.domain.text import is_safe_url

HS_CODE = re.compile(r"^\d{10}$")
CUSTOMS_DISTRICT = re.compile(r"^\d{4}$")
UNIT_CODE = re.compile(r"^\d{3}$")


class WarehouseKind(enum.StrEnum):
    BONDED = "bonded"  # in a Chinese bonded zone: bonded import, customs trade mode 1210
    OVERSEAS = "overseas"  # abroad: direct purchase import, trade mode 9610


class TaxCategory(enum.StrEnum):
    """Which cross-border tax rates apply (docs/architecture.md, "The business")."""

    GENERAL = "general"  # VAT 13 %, no consumption tax
    REDUCED_VAT = "reduced_vat"  # VAT 9 %: some foods and agricultural goods
    CONSUMPTION_TAX = "consumption_tax"  # e.g. high-end cosmetics: VAT 13 % + consumption tax 15 %


def country_code(value: str, *, field: str = "country") -> str:
    """Normalise an ISO 3166-1 alpha-2 code, refusing anything that is not one."""
    code = value.strip().upper()
    if len(code) != 2 or pycountry.countries.get(alpha_2=code) is None:
        raise InvalidInput(
            f"{value!r} is not an ISO 3166-1 alpha-2 country code",
            code="invalid_country",
            details=[FieldProblem(field, "expected a two-letter ISO 3166 code such as FR or JP")],
        )
    return code


def hs_code(value: str) -> str:
    if not HS_CODE.match(value):
        raise InvalidInput(
            "HS code must be 10 digits",
            code="invalid_hs_code",
            details=[FieldProblem("hs_code", "expected 10 digits, e.g. 0402290000")],
        )
    return value


def unit_code(value: str, *, field: str = "legal_unit") -> str:
    if not UNIT_CODE.match(value):
        raise InvalidInput(
            "measurement unit must be a 3-digit customs unit code",
            code="invalid_unit",
            details=[FieldProblem(field, "expected a customs unit code such as 007 (piece) or 035 (kg)")],
        )
    return value


def warehouse_location(kind: WarehouseKind, customs_district: str | None, country: str | None) -> None:
    """A bonded warehouse needs its customs district code; an overseas one its country."""
    if kind is WarehouseKind.BONDED:
        if not customs_district or not CUSTOMS_DISTRICT.match(customs_district):
            raise InvalidInput(
                "a bonded warehouse needs its 4-digit customs district code",
                code="invalid_warehouse",
                details=[FieldProblem("customs_district", "required for bonded warehouses, 4 digits")],
            )
    elif not country:
        raise InvalidInput(
            "an overseas warehouse needs its country",
            code="invalid_warehouse",
            details=[FieldProblem("country", "required for overseas warehouses")],
        )


# --- whole records ---------------------------------------------------------------------------------
# A ``*_record`` function takes what a caller asked for (a create, or an update merged over the stored
# row) and returns the column values to store, or raises one InvalidInput naming every bad field.

P = ParamSpec("P")
T = TypeVar("T")

CHINA = "CN"
MAX_IMAGES = 20
MAX_IMAGE_LENGTH = 500
MAX_WEIGHT_GRAMS = 1_000_000  # one tonne: far above any parcel, far below the INTEGER column's limit
MAX_UNITS = 2**31 - 1  # the stock columns are 32-bit INTEGER
MAX_PAGE = 200
WAREHOUSE_CODE = re.compile(r"^[A-Z0-9][A-Z0-9_-]{0,39}$")
BARCODE = re.compile(r"^\d{8,14}$")  # a GTIN: EAN-8, UPC-A, EAN-13 or GTIN-14
# A product's title is declared as gname and an order line's (the product's and the SKU's titles) as
# itemName: at most 250 characters each in the customs schema, so neither title may be longer alone.
TITLE_MAX = 250
WAREHOUSE_NAME_MAX = 100  # a bonded warehouse's name is declared as areaName: at most 100 characters


def invalid(code: str, message: str, field: str, hint: str, **facts: object) -> InvalidInput:
    return InvalidInput(message, code=code, details=[FieldProblem(field, hint, code)], facts=facts)


class FieldChecks:
    """Runs several field rules and reports every broken one at once, so a form can show them all."""

    def __init__(self) -> None:
        self._errors: list[InvalidInput] = []

    def run(self, rule: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        return self.nested("", rule, *args, **kwargs)

    def nested(self, prefix: str, rule: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run ``rule``; with a ``prefix`` (``skus.2``) its fields are reported as ``skus.2.<field>``."""
        try:
            return rule(*args, **kwargs)
        except InvalidInput as exc:
            if prefix:
                details = [
                    FieldProblem(f"{prefix}.{d.field}", d.message, d.code or exc.code) for d in exc.details
                ]
                exc = InvalidInput(exc.message, code=exc.code, details=details, facts=exc.facts)
            self._errors.append(exc)
            return cast(T, None)  # never used: ``done`` raises before a record is returned

    def done(self) -> None:
        if len(self._errors) == 1:
            raise self._errors[0]
        if self._errors:
            message = "; ".join(e.message for e in self._errors)
            details = [
                FieldProblem(d.field, d.message, d.code or e.code) for e in self._errors for d in e.details
            ]
            facts = {name: value for e in self._errors for name, value in e.facts.items()}
            raise InvalidInput(message, code="invalid_fields", details=details, facts=facts)


def text(
    value: str | None, *, field: str, max_length: int, required: bool = True, multiline: bool = False
) -> str:
    """Trimmed text; blank is refused when ``required`` and becomes ``""`` otherwise. Every catalog
    text may end up in a customs message or a database that refuses NUL, so characters XML cannot carry
    and control characters are refused, and line breaks too unless the field is ``multiline``."""
    cleaned = trimmed_carriable(value or "", field=field, multiline=multiline)
    if required and not cleaned:
        raise invalid("missing_field", f"{field} must not be empty", field, "required")
    if len(cleaned) > max_length:
        raise invalid(
            "too_long",
            f"{field} is too long",
            field,
            f"at most {max_length} characters",
            max_length=max_length,
        )
    return cleaned


HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


def chinese_text(value: str | None, *, field: str, max_length: int, multiline: bool = False) -> str:
    """An optional display text for Chinese readers: trimmed, and when given written in Chinese (at
    least one Han character), so an English text is never shown to them as if it were Chinese."""
    cleaned = text(value, field=field, max_length=max_length, required=False, multiline=multiline)
    if cleaned and not HAN.search(cleaned):
        raise invalid("not_chinese", f"{field} must be written in Chinese", field, "Chinese characters")
    return cleaned


def optional_text(value: str | None, *, field: str, max_length: int) -> str | None:
    """Trimmed text, or None when absent or blank (for nullable columns)."""
    return text(value, field=field, max_length=max_length, required=False) or None


def required_country(value: str | None, *, field: str = "country") -> str:
    return country_code(text(value, field=field, max_length=10), field=field)


def declarable_country(
    value: str | None, codable: Container[str], *, field: str, code: str = "country_not_declarable"
) -> str:
    """A country the customs declarations can name: a real ISO code that is also one of ``codable``,
    the ISO codes the customs codec has a customs country code for. Refused here, where the country
    enters, because a declaration naming it could never be built."""
    found = required_country(value, field=field)
    if found not in codable:
        country = pycountry.countries.get(alpha_2=found)
        name = f"{country.name} ({found})" if country is not None else found
        hint = f"customs has no country code on file for {name}; choose a country customs can declare"
        raise invalid(code, f"customs cannot declare {name} as {field.replace('_', ' ')}", field, hint)
    return found


def supplier_email(value: str | None) -> str | None:
    if not value or not value.strip():
        return None
    try:
        return normalise_email(value)
    except InvalidInput as exc:
        raise invalid(exc.code, exc.message, "contact_email", "expected name@example.com") from exc


def product_hs_code(value: str | None) -> str:
    return hs_code((value or "").strip())


MAX_PRICE_FEN = 100_000_000  # 1,000,000.00 CNY: above any cross-border retail item


def safe_url(value: str | None, *, field: str) -> str | None:
    """An optional https URL or site path of at most 500 characters (see ``text.is_safe_url``)."""
    cleaned = optional_text(value, field=field, max_length=500)
    if cleaned is not None and not is_safe_url(cleaned):
        raise invalid(
            "invalid_url", f"{field} must be an https URL or a path on this site", field, "https://..."
        )
    return cleaned


def image_list(images: list[str] | None) -> list[str]:
    """At least one image, each a non-blank URL or path of at most 500 characters."""
    cleaned = [
        trimmed_carriable(image or "", field=f"images.{position}")
        for position, image in enumerate(images or [])
    ]
    if not 1 <= len(cleaned) <= MAX_IMAGES:
        raise invalid("invalid_images", f"a product has 1 to {MAX_IMAGES} images", "images", "1 or more")
    for position, image in enumerate(cleaned):
        if not 1 <= len(image) <= MAX_IMAGE_LENGTH or not is_safe_url(image):
            hint = f"an https URL or a path on this site, 1 to {MAX_IMAGE_LENGTH} characters"
            raise invalid("invalid_images", f"image {position} is not valid", f"images.{position}", hint)
    return cleaned


def parse_tax_category(value: TaxCategory | str | None) -> TaxCategory:
    try:
        return TaxCategory(str(value))
    except ValueError:
        allowed = ", ".join(c.value for c in TaxCategory)
        message = f"{value!r} is not a tax category"
        raise invalid("invalid_tax_category", message, "tax_category", f"one of {allowed}") from None


def original_price_fen(amount: Decimal | str | int | None) -> int:
    """The SKU's original price in fen: above zero, at most two decimals (refused, never rounded)."""
    try:
        fen = to_fen(amount if amount is not None else "", field="original_price")
    except InvalidInput as exc:
        raise invalid(exc.code, exc.message, "original_price", exc.message) from exc
    if fen == 0:
        raise invalid("invalid_money", "original_price must be above zero", "original_price", "above zero")
    if fen > MAX_PRICE_FEN:
        hint = "at most 1,000,000.00"
        raise invalid("invalid_money", "original_price is out of range", "original_price", hint)
    return fen


def positive_weight(value: int | None) -> int:
    if value is None or not 0 < value <= MAX_WEIGHT_GRAMS:
        hint = f"a whole number of grams, 1 to {MAX_WEIGHT_GRAMS}"
        raise invalid("invalid_weight", "weight is out of range", "weight_grams", hint)
    return value


def gtin_barcode(value: str | None) -> str | None:
    cleaned = optional_text(value, field="barcode", max_length=32)
    if cleaned is not None and not BARCODE.match(cleaned):
        raise invalid("invalid_barcode", "barcode is not a GTIN", "barcode", "8 to 14 digits (EAN/UPC)")
    return cleaned


def warehouse_code(value: str | None) -> str:
    code = text(value, field="code", max_length=40).upper()
    if not WAREHOUSE_CODE.match(code):
        hint = "letters, digits, '-' and '_', e.g. NB-BONDED-1"
        raise invalid("invalid_warehouse_code", "warehouse code has odd characters", "code", hint)
    return code


def parse_warehouse_kind(value: WarehouseKind | str | None) -> WarehouseKind:
    try:
        return WarehouseKind(str(value))
    except ValueError:
        message = f"{value!r} is not a warehouse kind"
        raise invalid("invalid_warehouse", message, "kind", "bonded or overseas") from None


def warehouse_account_book(kind: WarehouseKind, ems_no: str | None) -> str | None:
    """The customs account book a bonded warehouse declares its goods under (emsNo, up to 30)."""
    if ems_no is None:
        return None
    if kind is not WarehouseKind.BONDED:
        raise invalid(
            "invalid_warehouse", "only a bonded warehouse has an account book", "ems_no", "bonded only"
        )
    if len(ems_no) > 30 or not ems_no.isalnum():
        raise invalid(
            "invalid_warehouse", "emsNo is up to 30 letters and digits", "ems_no", "e.g. T3105W000001"
        )
    return ems_no


def warehouse_area_code(kind: WarehouseKind, value: str | None) -> str | None:
    """The bonded area operator's registered code (``areaCode``): required for a bonded warehouse,
    because a 1210 inventory list cannot be declared without it; none for an overseas one."""
    code = goods.area_code(value)
    if kind is WarehouseKind.BONDED and code is None:
        hint = "the bonded area operator's 10-character customs code or 18-character credit code"
        raise invalid("invalid_area_code", "a bonded warehouse needs its area code", "area_code", hint)
    if kind is not WarehouseKind.BONDED and code is not None:
        raise invalid(
            "invalid_area_code", "only a bonded warehouse has an area code", "area_code", "bonded only"
        )
    return code


def warehouse_country(
    kind: WarehouseKind, customs_district: str | None, country: str | None, codable: Container[str]
) -> str:
    """A bonded zone is in China (the country defaults to CN); an overseas warehouse is outside China,
    has no Chinese customs district, and is in a country customs can code (``codable``): a direct
    import's inventory list names the country the parcel leaves from."""
    warehouse_location(kind, customs_district, country)
    if kind is WarehouseKind.BONDED:
        if required_country(country or CHINA) != CHINA:
            raise invalid("invalid_warehouse", "a bonded warehouse is in China", "country", "CN for bonded")
        return CHINA
    if customs_district:
        message = "only bonded warehouses have a customs district"
        raise invalid("invalid_warehouse", message, "customs_district", "leave empty for overseas")
    found = required_country(country)
    if found == CHINA:
        raise invalid("invalid_warehouse", "an overseas warehouse is outside China", "country", "not CN")
    return declarable_country(found, codable, field="country")


def brand_record(
    *,
    name: str | None,
    country: str | None,
    description: str | None = "",
    logo_url: str | None = None,
    name_zh: str | None = "",
    description_zh: str | None = "",
) -> dict[str, Any]:
    checks = FieldChecks()
    record = {
        "name": checks.run(text, name, field="name", max_length=200),
        "country": checks.run(required_country, country),
        "description": checks.run(
            text, description, field="description", max_length=5000, required=False, multiline=True
        ),
        "logo_url": checks.run(safe_url, logo_url, field="logo_url"),
        "name_zh": checks.run(chinese_text, name_zh, field="name_zh", max_length=200),
        "description_zh": checks.run(
            chinese_text, description_zh, field="description_zh", max_length=5000, multiline=True
        ),
    }
    checks.done()
    return record


def supplier_record(
    *, name: str | None, country: str | None, contact_email: str | None = None
) -> dict[str, Any]:
    checks = FieldChecks()
    record = {
        "name": checks.run(text, name, field="name", max_length=200),
        "country": checks.run(required_country, country),
        "contact_email": checks.run(supplier_email, contact_email),
    }
    checks.done()
    return record


def warehouse_record(
    *,
    code: str | None,
    name: str | None,
    kind: WarehouseKind | str | None,
    customs_district: str | None = None,
    country: str | None = None,
    ems_no: str | None = None,
    area_code: str | None = None,
    codable_countries: Container[str],
) -> dict[str, Any]:
    """``codable_countries``: the ISO codes customs has a country code for (an overseas warehouse's).
    A bonded warehouse names the bonded area operator's customs registration (``area_code``)."""
    checks = FieldChecks()
    district = (customs_district or "").strip() or None
    account_book = (ems_no or "").strip() or None
    parsed_kind = checks.run(parse_warehouse_kind, kind)
    record = {
        "code": checks.run(warehouse_code, code),
        "name": checks.run(text, name, field="name", max_length=WAREHOUSE_NAME_MAX),
        "kind": parsed_kind,
        "customs_district": district,
        "country": (
            checks.run(warehouse_country, parsed_kind, district, country, codable_countries)
            if parsed_kind
            else None
        ),
        "ems_no": checks.run(warehouse_account_book, parsed_kind, account_book) if parsed_kind else None,
        "area_code": checks.run(warehouse_area_code, parsed_kind, area_code) if parsed_kind else None,
    }
    checks.done()
    return record


def product_record(
    *,
    title: str | None,
    images: list[str] | None,
    origin_country: str | None,
    hs_code: str | None,
    legal_unit: str | None,
    tax_category: TaxCategory | str | None,
    declared_name: str | None = None,
    description: str | None = "",
    title_zh: str | None = "",
    description_zh: str | None = "",
    return_exclusions: str | None = "",
    return_exclusions_zh: str | None = "",
    codable_origins: Container[str],
) -> dict[str, Any]:
    """``codable_origins``: the ISO codes customs has a country code for; every order line declares
    its product's origin by that code, so any other origin is refused (``origin_not_declarable``).
    ``legal_unit`` may be left out: the service takes it from the positive list's line for the HS code
    (and refuses one that differs)."""
    checks = FieldChecks()
    given_unit = (legal_unit or "").strip()
    record = {
        "title": checks.run(text, title, field="title", max_length=TITLE_MAX),
        "declared_name": checks.run(goods.declared_name, declared_name),
        "description": checks.run(
            text, description, field="description", max_length=20000, required=False, multiline=True
        ),
        "images": checks.run(image_list, images),
        "origin_country": checks.run(
            declarable_country,
            origin_country,
            codable_origins,
            field="origin_country",
            code="origin_not_declarable",
        ),
        "hs_code": checks.run(product_hs_code, hs_code),
        "legal_unit": checks.run(unit_code, given_unit, field="legal_unit") if given_unit else None,
        "tax_category": checks.run(parse_tax_category, tax_category),
        "title_zh": checks.run(chinese_text, title_zh, field="title_zh", max_length=TITLE_MAX),
        "description_zh": checks.run(
            chinese_text, description_zh, field="description_zh", max_length=20000, multiline=True
        ),
        # What cannot be returned, shown beside the returns policy on the item page ("" = nothing).
        "return_exclusions": checks.run(
            text,
            return_exclusions,
            field="return_exclusions",
            max_length=RETURN_EXCLUSIONS_MAX,
            required=False,
        ),
        "return_exclusions_zh": checks.run(
            chinese_text, return_exclusions_zh, field="return_exclusions_zh", max_length=RETURN_EXCLUSIONS_MAX
        ),
    }
    checks.done()
    return record


RETURN_EXCLUSIONS_MAX = 500


def sku_record(
    *,
    code: str | None,
    title: str | None,
    original_price: Decimal | str | int | None,
    weight_grams: int | None,
    unit: str | None,
    spec: str | None = "",
    barcode: str | None = None,
    gmodel: str | None = None,
    net_content: Decimal | str | int | None = None,
    net_content_unit: str | None = None,
    net_weight_grams: int | None = None,
    packaging_weight_grams: int | None = None,
    item_record_no: str | None = None,
) -> dict[str, Any]:
    """``weight_grams`` is the shipping weight the carrier is told; customs is declared the net weight
    (the goods alone) and the gross weight (net + packaging), never the shipping weight."""
    checks = FieldChecks()
    content = checks.run(goods.net_content, net_content, net_content_unit)
    record = {
        "code": checks.run(text, code, field="code", max_length=64),
        "title": checks.run(text, title, field="title", max_length=TITLE_MAX),
        "spec": checks.run(text, spec, field="spec", max_length=255, required=False),
        "barcode": checks.run(gtin_barcode, barcode),
        "original_price_fen": checks.run(original_price_fen, original_price),
        "weight_grams": checks.run(positive_weight, weight_grams),
        "unit": checks.run(unit_code, (unit or "").strip(), field="unit"),
        "gmodel": checks.run(goods.gmodel, gmodel),
        "net_content": content[0] if content else None,
        "net_content_unit": content[1].value if content else None,
        "net_weight_grams": checks.run(goods.grams, net_weight_grams, field="net_weight_grams"),
        # Every retail unit crosses the border packed: a gross weight equal to the net is not declared.
        "packaging_weight_grams": checks.run(
            goods.grams, packaging_weight_grams, field="packaging_weight_grams"
        ),
        "item_record_no": checks.run(goods.record_no, item_record_no),
    }
    checks.done()
    return record


def new_sku_records(skus: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The SKUs given with a new product: each valid, and no code given twice."""
    checks = FieldChecks()
    records = [checks.nested(f"skus.{i}", sku_record, **sku) for i, sku in enumerate(skus)]
    checks.done()
    seen: set[str] = set()
    for position, record in enumerate(records):
        if record["code"] in seen:
            hint = "repeats an earlier SKU's code"
            raise invalid("sku_code_repeated", "a SKU code is given twice", f"skus.{position}.code", hint)
        seen.add(record["code"])
    return records


def changed_fields(stored: Mapping[str, Any], record: Mapping[str, Any]) -> dict[str, Any]:
    """The part of ``record`` that differs from the stored row: what an update really writes."""
    return {name: value for name, value in record.items() if stored.get(name) != value}


def product_owner(who: Principal, requested_supplier_id: int | None) -> int:
    """The supplier a new product belongs to: the catalog staff (operators, merchandisers) name it; a
    supplier user's products are its own (naming another supplier is 403)."""
    if who.role in CATALOG_STAFF:
        if requested_supplier_id is None:
            raise invalid("missing_field", "say which supplier owns the product", "supplier_id", "required")
        return requested_supplier_id
    return _callers_supplier(who, requested_supplier_id)


def visible_supplier(who: Principal, requested_supplier_id: int | None) -> int | None:
    """Whose products a listing shows: the catalog staff see all, or the supplier it filters on; a supplier
    user sees only its own (filtering on another supplier is 403)."""
    if who.role in CATALOG_STAFF:
        return requested_supplier_id
    return _callers_supplier(who, requested_supplier_id)


def _callers_supplier(who: Principal, requested_supplier_id: int | None) -> int:
    supplier_id = requested_supplier_id if requested_supplier_id is not None else who.supplier_id
    if supplier_id is None:  # not a supplier user: no catalog of its own
        raise Forbidden("you may only manage your own supplier's catalog", code="not_your_supplier")
    who.require_supplier_scope(supplier_id)
    return supplier_id


def page_window(limit: int, offset: int) -> tuple[int, int]:
    """Lists are bounded: 1 to 200 rows per page."""
    if not 1 <= limit <= MAX_PAGE:
        raise invalid("invalid_page", f"limit must be 1 to {MAX_PAGE}", "limit", f"1 to {MAX_PAGE}")
    if offset < 0:
        raise invalid("invalid_page", "offset must not be negative", "offset", "0 or more")
    return limit, offset


# --- stock -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StockLevel:
    """One SKU in one warehouse. ``allotted`` is the part promised to flash-sale items."""

    on_hand: int
    allotted: int

    @property
    def free(self) -> int:
        return self.on_hand - self.allotted


def stock_below_allotted(on_hand: int, allotted: int) -> Conflict:
    message = f"on_hand {on_hand} would be below the {allotted} units already allotted to flash sales"
    return Conflict(message, code="stock_below_allotted", facts={"on_hand": on_hand, "allotted": allotted})


def set_on_hand(level: StockLevel, new_on_hand: int) -> StockLevel:
    """The level after a count; never below what is allotted, because those units are promised."""
    if not 0 <= new_on_hand <= MAX_UNITS:
        raise invalid("invalid_quantity", "on_hand is out of range", "on_hand", f"0 to {MAX_UNITS}")
    if new_on_hand < level.allotted:
        raise stock_below_allotted(new_on_hand, level.allotted)
    return StockLevel(new_on_hand, level.allotted)
