"""Catalog rules: brands, warehouses, SKUs. Pure validation, no storage."""

from __future__ import annotations

import enum
import re

import pycountry

from flashport.domain.errors import FieldProblem, InvalidInput

HS_CODE = re.compile(r"^\d{10}$")
CUSTOMS_DISTRICT = re.compile(r"^\d{4}$")
UNIT_CODE = re.compile(r"^\d{3}$")


class WarehouseKind(enum.StrEnum):
    BONDED = "bonded"  # in a Chinese bonded zone: bonded import, customs trade mode 1210
    OVERSEAS = "overseas"  # abroad: direct purchase import, trade mode 9610


class TaxCategory(enum.StrEnum):
    """Which cross-border tax rates apply (CROSSBORDER.md, "Tax")."""

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
