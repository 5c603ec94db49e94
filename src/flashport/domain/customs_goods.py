"""Goods as customs reads them: the Chinese declared name, the declaration elements (``gmodel``), net
content and weights, the legal units of an HS code, the bonded account-book record number, and the
positive list of goods allowed in cross-border retail import. Pure rules, no storage.

A customs broker's view: the inventory list declares each line's goods name in Chinese (``gname``,
the same as the order's ``itemName``), its brand, specification and composition (``gmodel``), its
quantity in the first (and second) statutory unit of its HS code (``qty1``, ``qty2``), and the parcel's
net and gross weight. Each of those must be a fact kept in the catalog, never guessed from the shipping
weight or an English title.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from flashport.domain.customs_text import trimmed_carriable
from flashport.domain.errors import FieldProblem, InvalidInput

DECLARED_NAME_MAX = 250  # gname / itemName in the customs schema
GMODEL_MAX = 255  # gmodel in the customs schema
GMODEL_PARTS = 3  # brand | specification | composition, at least
RECORD_NO_MAX = 30  # itemRecordNo in the customs schema
AREA_CODE = re.compile(r"^(?:[0-9A-Z]{10}|[0-9A-Z]{18})$")  # customs code (10) or credit code (18)
RECORD_NO = re.compile(r"^[0-9A-Za-z-]{1,30}$")
HS_CODE = re.compile(r"^\d{10}$")
UNIT_CODE = re.compile(r"^\d{3}$")
EDITION = re.compile(r"^[0-9A-Za-z][0-9A-Za-z._-]{0,39}$")
MAX_GRAMS = 1_000_000
MAX_NET_CONTENT = Decimal(1_000_000)
_CJK = re.compile("[\u3400-\u4dbf\u4e00-\u9fff\U00020000-\U0003134f]")

KILOGRAM, GRAM, LITRE, MILLILITRE = "035", "036", "095", "096"


class ContentUnit(enum.StrEnum):
    """The unit a SKU's net content is stated in, as on its label."""

    GRAM = "g"
    KILOGRAM = "kg"
    MILLILITRE = "ml"
    LITRE = "l"
    PIECE = "pcs"  # tablets, capsules, diapers...


_MILLILITRES = {ContentUnit.MILLILITRE: Decimal(1), ContentUnit.LITRE: Decimal(1000)}


def _bad(code: str, message: str, field: str, hint: str) -> InvalidInput:
    return InvalidInput(message, code=code, details=[FieldProblem(field, hint)])


def declared_name(value: str | None, *, field: str = "declared_name") -> str:
    """The goods' Chinese name as customs reads it (``gname``, and ``itemName`` on the order)."""
    name = " ".join(trimmed_carriable(value or "", field=field).split())
    if not name:
        raise _bad("missing_field", f"{field} must not be empty", field, "the goods' name in Chinese")
    if len(name) > DECLARED_NAME_MAX:
        raise _bad("too_long", f"{field} is too long", field, f"at most {DECLARED_NAME_MAX} characters")
    if not _CJK.search(name):
        hint = "customs reads the Chinese name, e.g. 婴儿配方奶粉"
        raise _bad("declared_name_not_chinese", f"{field} has no Chinese characters", field, hint)
    return name


def gmodel(value: str | None, *, field: str = "gmodel") -> str:
    """The declaration elements: brand, specification and composition, separated by ``|``
    (``品牌:爱他美|规格:800克/罐|成分:脱脂乳、乳糖、植物油``); every part non-empty."""
    text = " ".join(trimmed_carriable(value or "", field=field).split())
    parts = [part.strip() for part in text.split("|")]
    hint = "brand|specification|composition, e.g. 品牌:爱他美|规格:800克/罐|成分:脱脂乳、乳糖"
    if not text:
        raise _bad("missing_field", f"{field} must not be empty", field, hint)
    if len(parts) < GMODEL_PARTS or not all(parts):
        raise _bad("invalid_gmodel", f"{field} must state brand, specification and composition", field, hint)
    if len(text) > GMODEL_MAX:
        raise _bad("too_long", f"{field} is too long", field, f"at most {GMODEL_MAX} characters")
    return "|".join(parts)


def net_content(amount: Decimal | str | int | float | None, unit: str | None) -> tuple[Decimal, ContentUnit]:
    """The label's net content, e.g. ``900 g`` or ``50 ml``: above zero, at most three decimals."""
    try:
        parsed_unit = ContentUnit(str(unit or "").strip().lower())
    except ValueError:
        allowed = ", ".join(u.value for u in ContentUnit)
        raise _bad(
            "invalid_net_content", "net content unit is unknown", "net_content_unit", allowed
        ) from None
    hint = "a number above zero with at most three decimals, e.g. 900 or 50"
    try:
        value = Decimal(str(amount).strip()) if amount is not None and not isinstance(amount, bool) else None
    except InvalidOperation:
        value = None
    if value is None or not value.is_finite() or not 0 < value <= MAX_NET_CONTENT:
        raise _bad("invalid_net_content", "net content is out of range", "net_content", hint)
    if value != value.quantize(Decimal("0.001")):
        raise _bad("invalid_net_content", "net content has more than three decimals", "net_content", hint)
    return value.quantize(Decimal("0.001")), parsed_unit


def grams(value: int | None, *, field: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= MAX_GRAMS:
        hint = f"a whole number of grams, {minimum} to {MAX_GRAMS}"
        raise _bad("invalid_weight", f"{field.replace('_', ' ')} is out of range", field, hint)
    return value


def record_no(value: str | None) -> str | None:
    """The SKU's record number in the bonded account book (``itemRecordNo``), or None."""
    text = trimmed_carriable(value or "", field="item_record_no")
    if not text:
        return None
    if not RECORD_NO.match(text):
        hint = f"1 to {RECORD_NO_MAX} letters, digits or '-', as the account book gives it"
        raise _bad("invalid_item_record_no", "item record number has odd characters", "item_record_no", hint)
    return text


def area_code(value: str | None) -> str | None:
    """The bonded area operator's customs registration: a 10-character customs code or an
    18-character unified social credit code (``areaCode``)."""
    text = trimmed_carriable(value or "", field="area_code").upper()
    if not text:
        return None
    if not AREA_CODE.match(text):
        hint = "the operator's 10-character customs code or 18-character credit code"
        raise _bad("invalid_area_code", "area code is not a customs registration", "area_code", hint)
    return text


# --- legal units and quantities -------------------------------------------------------------------


def volume_ml(content: Decimal | None, unit: str | None) -> Decimal | None:
    """The net content in millilitres, or None when it is not a volume."""
    if content is None or unit is None or ContentUnit(unit) not in _MILLILITRES:
        return None
    return content * _MILLILITRES[ContentUnit(unit)]


def check_content_fits(legal_units: Iterable[str | None], unit: str | None, *, field: str) -> None:
    """A legal unit of volume needs the net content as a volume: litres cannot be declared from grams."""
    if any(u in (LITRE, MILLILITRE) for u in legal_units) and unit not in _MILLILITRES:
        hint = "the HS code's legal unit is a volume: state the net content in ml or l"
        raise _bad("net_content_unit_mismatch", "net content must be a volume for this HS code", field, hint)


@dataclass(frozen=True)
class GoodsQuantity:
    """One order line's goods as the legal quantities are counted from."""

    quantity: int
    net_weight_grams: int
    net_content: Decimal | None
    net_content_unit: str | None


def legal_quantity(unit: str, goods: GoodsQuantity) -> Decimal:
    """``qty1``/``qty2``: the line's quantity in ``unit``. Weights come from the net weight, volumes
    from the net content; any other unit (piece, can, bottle, set...) counts the units sold."""
    if unit == KILOGRAM:
        return (Decimal(goods.net_weight_grams * goods.quantity) / 1000).quantize(Decimal("0.00001"))
    if unit == GRAM:
        return Decimal(goods.net_weight_grams * goods.quantity)
    if unit in (LITRE, MILLILITRE):
        ml = volume_ml(goods.net_content, goods.net_content_unit)
        if ml is None:
            raise ValueError("a volume legal unit needs the net content as a volume")
        total = ml * goods.quantity
        return (
            (total / 1000).quantize(Decimal("0.00001")) if unit == LITRE else total.quantize(Decimal("0.001"))
        )
    return Decimal(goods.quantity)


def check_bonded_registrations(area_code: str | None, item_record_no: str | None) -> None:
    """Goods sold from a bonded warehouse are declared under 1210, which names the area operator's
    code and the goods' record number in the account book: without either the order could never be
    declared, so the sale item is refused before anything is sold."""
    if not area_code:
        hint = "give the bonded warehouse its area operator's registered code (area_code) first"
        raise _bad(
            "bonded_area_code_missing", "the warehouse has no registered area code", "warehouse_id", hint
        )
    if not item_record_no:
        hint = "give the SKU its record number in the bonded account book (item_record_no) first"
        raise _bad("item_record_no_missing", "the SKU has no bonded record number", "sku_id", hint)


# --- the positive list ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ListedGoods:
    """One line of the positive list: a 10-digit commodity code and its statutory units."""

    hs_code: str
    name: str
    legal_unit: str
    second_legal_unit: str | None = None


@dataclass(frozen=True)
class PositiveList:
    """One edition of the list: where it comes from, and its goods by HS code."""

    edition: str
    source: str
    goods: Mapping[str, ListedGoods]


def not_on_positive_list(hs_code: str, edition: str) -> InvalidInput:
    hint = f"not on the cross-border retail import positive list (edition {edition})"
    return _bad(
        "hs_code_not_on_positive_list",
        f"HS code {hs_code} may not be sold as cross-border retail import",
        "hs_code",
        hint,
    )


def resolve_legal_unit(listed: ListedGoods, given: str | None, edition: str) -> str:
    """The product's first legal unit: the HS code's. One given that differs is refused."""
    unit = (given or "").strip()
    if unit and unit != listed.legal_unit:
        hint = f"the first legal unit of {listed.hs_code} is {listed.legal_unit} (positive list {edition})"
        raise _bad("legal_unit_mismatch", "legal unit differs from the HS code's", "legal_unit", hint)
    return listed.legal_unit


def listed_goods(raw: Mapping[str, object], position: int) -> ListedGoods:
    """One line of an edition an operator loads, checked field by field."""
    where = f"goods.{position}"
    code = str(raw.get("hs_code") or "").strip()
    if not HS_CODE.match(code):
        raise _bad("invalid_hs_code", "HS code must be 10 digits", f"{where}.hs_code", "10 digits")
    name = trimmed_carriable(str(raw.get("name") or ""), field=f"{where}.name")
    if not 1 <= len(name) <= DECLARED_NAME_MAX:
        raise _bad("invalid_positive_list", "each line needs a name", f"{where}.name", "1 to 250 characters")
    units = []
    for key, required in (("legal_unit", True), ("second_legal_unit", False)):
        unit = str(raw.get(key) or "").strip()
        if (unit or required) and not UNIT_CODE.match(unit):
            hint = "a 3-digit customs unit code, e.g. 035 (kg)"
            raise _bad("invalid_unit", "legal unit is not a unit code", f"{where}.{key}", hint)
        units.append(unit or None)
    return ListedGoods(code, name, str(units[0]), units[1])


def positive_list(
    edition: str | None, source: str | None, goods: Iterable[Mapping[str, object]]
) -> PositiveList:
    """A new edition as an operator gives it: a name, its source, at least one line, no code twice."""
    name = (edition or "").strip()
    if not EDITION.match(name):
        hint = "1 to 40 letters, digits, '.', '-' or '_', e.g. 2025-01"
        raise _bad("invalid_positive_list", "edition name is not valid", "edition", hint)
    origin = " ".join(trimmed_carriable(source or "", field="source").split())
    if not 1 <= len(origin) <= 500:
        hint = "who published it and when, 1 to 500 characters"
        raise _bad("invalid_positive_list", "say where the edition comes from", "source", hint)
    entries: dict[str, ListedGoods] = {}
    for position, raw in enumerate(goods):
        line = listed_goods(raw, position)
        if line.hs_code in entries:
            where = f"goods.{position}.hs_code"
            raise _bad("invalid_positive_list", f"HS code {line.hs_code} is listed twice", where, "once each")
        entries[line.hs_code] = line
    if not entries:
        raise _bad("invalid_positive_list", "an edition lists at least one code", "goods", "1 or more")
    return PositiveList(name, origin, entries)
