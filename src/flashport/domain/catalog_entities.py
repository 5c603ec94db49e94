"""What the catalog holds, as the catalog services return it: brands, suppliers, warehouses, products,
SKUs and stock entries, each a frozen dataclass, and one page of a list.

The catalog repository builds these from its rows; the rules that validate what goes in are in
:mod:`flashport.domain.catalog`. Prices are integer fen, times timezone-aware UTC.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from decimal import Decimal
from typing import Generic, TypeVar

from flashport.domain.catalog import TaxCategory, WarehouseKind
from flashport.domain.money import fen_to_decimal

T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list in id order; ``has_more`` tells whether rows follow it."""

    items: tuple[T, ...]
    limit: int
    offset: int
    has_more: bool


@dataclass(frozen=True)
class Brand:
    id: int
    name: str
    country: str
    description: str
    logo_url: str | None
    created_at: datetime
    # The storefront's Chinese display name and description ("" until written); not customs fields.
    name_zh: str = field(default="", kw_only=True)
    description_zh: str = field(default="", kw_only=True)


@dataclass(frozen=True)
class Supplier:
    id: int
    name: str
    country: str
    contact_email: str | None
    created_at: datetime


@dataclass(frozen=True)
class Warehouse:
    id: int
    code: str
    name: str
    kind: WarehouseKind
    customs_district: str | None  # bonded warehouses only
    country: str
    ems_no: str | None  # the customs account book, bonded warehouses only
    created_at: datetime
    area_code: str | None = None  # the bonded area operator's registered code (areaCode)


@dataclass(frozen=True)
class Product:
    id: int
    brand_id: int
    supplier_id: int
    title: str
    description: str
    images: tuple[str, ...]
    origin_country: str
    hs_code: str
    legal_unit: str
    tax_category: TaxCategory
    created_at: datetime
    updated_at: datetime
    declared_name: str = ""  # the Chinese name customs reads (gname / itemName)
    second_legal_unit: str | None = None
    # The storefront's Chinese display title and description ("" until written); the name declared to
    # customs is a separate field.
    title_zh: str = field(default="", kw_only=True)
    description_zh: str = field(default="", kw_only=True)
    # What of the product cannot be returned, in English and Chinese ("" = nothing is excluded).
    return_exclusions: str = field(default="", kw_only=True)
    return_exclusions_zh: str = field(default="", kw_only=True)


@dataclass(frozen=True)
class Sku:
    """A sellable variant of a product; ``supplier_id`` is its product's, the scope of who manages it."""

    id: int
    product_id: int
    supplier_id: int
    code: str
    title: str
    spec: str
    barcode: str | None
    original_price_fen: int
    weight_grams: int  # shipping weight (the carrier's)
    unit: str
    created_at: datetime
    updated_at: datetime
    gmodel: str = ""  # brand|specification|composition
    net_content: Decimal | None = None
    net_content_unit: str | None = None  # g, kg, ml, l or pcs
    net_weight_grams: int = 0
    packaging_weight_grams: int = 0
    item_record_no: str | None = None  # the bonded account book's record number (1210)

    @property
    def original_price(self) -> Decimal:
        """The original price in yuan with two places (``129.00``)."""
        return fen_to_decimal(self.original_price_fen)


@dataclass(frozen=True)
class ProductWithSkus(Product):
    skus: tuple[Sku, ...] = ()

    @classmethod
    def of(cls, product: Product, skus: Sequence[Sku]) -> ProductWithSkus:
        return cls(**{f.name: getattr(product, f.name) for f in fields(Product)}, skus=tuple(skus))


@dataclass(frozen=True)
class StockEntry:
    """One SKU in one warehouse: units on hand, and the part of them promised to flash-sale items."""

    sku_id: int
    warehouse_id: int
    warehouse_code: str
    warehouse_kind: WarehouseKind
    on_hand: int
    allotted: int
    updated_at: datetime

    @property
    def free(self) -> int:
        """What new sale items may still take."""
        return self.on_hand - self.allotted
