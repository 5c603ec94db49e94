"""The catalog: brands, suppliers and warehouses (operators), products, SKUs and stock (operators, and
supplier users for their own supplier). Handlers parse, call one service function, and return."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Generic, TypeVar

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from flashport.api.deps import (
    CatalogManager,
    CatalogStaff,
    OperatorOnly,
    duty_doc,
    get_ctx,
    public_doc,
    roles_doc,
)
from flashport.api.inputs import Id, Input, OptionalId
from flashport.domain.access import Duty, is_staff
from flashport.domain.accounts import Principal, Role
from flashport.domain.catalog import MAX_PAGE, MAX_UNITS, TaxCategory, WarehouseKind
from flashport.domain.catalog_entities import (
    Brand,
    Product,
    ProductWithSkus,
    Sku,
    StockEntry,
    Supplier,
    Warehouse,
)
from flashport.domain.catalog_entities import Page as EntityPage
from flashport.services.catalog import positive_list
from flashport.services.catalog import products as catalog_products
from flashport.services.catalog import reference as catalog
from flashport.services.catalog import skus as catalog_skus
from flashport.services.catalog import stock as catalog_stock
from flashport.services.context import Context

router = APIRouter(prefix="/api/v1", tags=["catalog"])

Item = TypeVar("Item")
Ctx = Depends(get_ctx)
Limit = Query(50, ge=1, le=MAX_PAGE, description=f"rows per page, at most {MAX_PAGE}")
Offset = Query(0, ge=0, le=1_000_000, description="rows to skip")
Price = Field(examples=["129.00"], description="CNY, at most two decimals; a string keeps it exact")
# Codes are only size-bounded here; the domain checks them and answers with a specific error code.
Country = Field(max_length=16, examples=["FR"], description="ISO 3166-1 alpha-2")
Unit = Field(max_length=16, examples=["007"], description="3-digit customs measurement unit code")


class Page(BaseModel, Generic[Item]):
    items: list[Item]
    limit: int
    offset: int
    has_more: bool


# --- request and response bodies -------------------------------------------------------------------


ChineseName = Field(
    "", max_length=200, examples=["爱他美"], description="shown to Chinese readers; Chinese characters"
)
ChineseTitle = Field(
    "",
    max_length=300,
    examples=["爱他美 澳洲版 婴儿配方奶粉 2段 900g"],
    description="shown to Chinese readers",
)
RETURN_EXCLUSIONS = (
    "what of this product cannot be returned (e.g. `Opened tins cannot be returned.`), shown on the item "
    "page beside the returns policy; empty: nothing is excluded"
)
RETURN_EXCLUSIONS_ZH = "the same for Chinese readers, in Chinese characters"
ChineseText = Field("", max_length=20000, description="shown to Chinese readers; Chinese characters")


class BrandIn(Input):
    name: str = Field(max_length=200, examples=["Aptamil"])
    country: str = Country
    description: str = Field("", max_length=5000)
    logo_url: str | None = Field(None, max_length=500)
    name_zh: str = ChineseName
    description_zh: str = Field("", max_length=5000, description="shown to Chinese readers")


class BrandPatch(Input):
    name: str | None = Field(None, max_length=200)
    country: str | None = Field(None, max_length=16)
    description: str | None = Field(None, max_length=5000)
    logo_url: str | None = Field(None, max_length=500)
    name_zh: str | None = Field(None, max_length=200)
    description_zh: str | None = Field(None, max_length=5000)


class BrandOut(BaseModel):
    id: int
    name: str
    country: str
    description: str
    logo_url: str | None
    created_at: datetime
    name_zh: str
    description_zh: str


class SupplierIn(Input):
    name: str = Field(max_length=200, examples=["Maison Lumière Trading SARL"])
    country: str = Country
    contact_email: str | None = Field(None, max_length=320)


class SupplierOut(BaseModel):
    id: int
    name: str
    country: str
    contact_email: str | None
    created_at: datetime


class WarehouseIn(Input):
    code: str = Field(max_length=40, examples=["NB-BONDED-1"])
    name: str = Field(max_length=200)
    kind: WarehouseKind
    customs_district: str | None = Field(
        None, max_length=16, examples=["3105"], description="4 digits, bonded only"
    )
    country: str | None = Field(None, max_length=16, description="CN for bonded (the default); else required")
    ems_no: str | None = Field(
        None, max_length=30, examples=["T3105W000001"], description="customs account book, bonded only"
    )
    area_code: str | None = Field(
        None,
        max_length=32,
        examples=["3105W60001"],
        description="bonded only, required there: the bonded area operator's customs registration "
        "(10-character customs code or 18-character credit code), declared as areaCode",
    )


class WarehouseOut(BaseModel):
    id: int
    code: str
    name: str
    kind: WarehouseKind
    customs_district: str | None
    country: str
    ems_no: str | None = None
    area_code: str | None = None
    created_at: datetime


# Every customs field is optional here so that the catalog's own rules answer a missing one with a
# specific code (``missing_field``, ``invalid_gmodel``, ``invalid_net_content``, ``invalid_weight``...).
Gmodel = Field(
    None,
    max_length=400,
    examples=["品牌:爱他美|规格:800克/罐|成分:脱脂乳、乳糖、植物油"],
    description="required: the declaration elements brand|specification|composition (gmodel)",
)
NetContent = Field(None, examples=["800"], description="required: the label's net content, e.g. 800 (g)")
NetContentUnit = Field(None, max_length=8, examples=["g"], description="required: g, kg, ml, l or pcs")
NetWeight = Field(None, examples=[800], description="required: grams of goods in one unit, no packaging")
Packaging = Field(
    None, examples=[180], description="required, at least 1: grams of packaging; gross = net + packaging"
)
RecordNo = Field(
    None,
    max_length=64,
    examples=["T3105W000001-0001"],
    description="the SKU's record number in the bonded account book (itemRecordNo); required for 1210",
)


class SkuIn(Input):
    code: str = Field(max_length=64, examples=["APT-PRO1-800G"])
    title: str = Field(max_length=300)
    spec: str = Field("", max_length=255, examples=["800 g tin"])
    barcode: str | None = Field(None, max_length=32)
    original_price: Decimal = Price
    weight_grams: int = Field(gt=0, le=1_000_000, description="shipping weight for the carrier, grams")
    unit: str = Unit
    gmodel: str | None = Gmodel
    net_content: Decimal | None = NetContent
    net_content_unit: str | None = NetContentUnit
    net_weight_grams: int | None = NetWeight
    packaging_weight_grams: int | None = Packaging
    item_record_no: str | None = RecordNo


class SkuPatch(Input):
    code: str | None = Field(None, max_length=64)
    title: str | None = Field(None, max_length=300)
    spec: str | None = Field(None, max_length=255)
    barcode: str | None = Field(None, max_length=32)
    original_price: Decimal | None = Field(None, examples=["99.00"])
    weight_grams: int | None = Field(None, gt=0, le=1_000_000)
    unit: str | None = Field(None, max_length=16)
    gmodel: str | None = Field(None, max_length=400)
    net_content: Decimal | None = None
    net_content_unit: str | None = Field(None, max_length=8)
    net_weight_grams: int | None = None
    packaging_weight_grams: int | None = None
    item_record_no: str | None = Field(None, max_length=64)


class SkuOut(BaseModel):
    id: int
    product_id: int
    code: str
    title: str
    spec: str
    barcode: str | None
    original_price: Decimal = Price
    weight_grams: int
    unit: str
    gmodel: str
    net_content: Decimal | None
    net_content_unit: str | None
    net_weight_grams: int
    packaging_weight_grams: int
    item_record_no: str | None
    created_at: datetime
    updated_at: datetime


DeclaredName = Field(
    None,
    max_length=300,
    examples=["婴儿配方奶粉"],
    description="required: the goods' name in Chinese as customs reads it (gname / itemName)",
)


class ProductIn(Input):
    brand_id: int
    supplier_id: int | None = Field(None, description="required for operators; a supplier user's own")
    title: str = Field(max_length=300)
    declared_name: str | None = DeclaredName
    description: str = Field("", max_length=20000)
    images: list[str] = Field(
        max_length=20, description="1 to 20 image URLs", examples=[["https://img.example.com/a.jpg"]]
    )
    origin_country: str = Country
    hs_code: str = Field(
        max_length=16,
        examples=["0402290000"],
        description="10 digits, on the positive list in force (else `hs_code_not_on_positive_list`)",
    )
    legal_unit: str | None = Field(
        None, max_length=16, description="optional: the HS code's first legal unit, from the positive list"
    )
    tax_category: TaxCategory
    title_zh: str = ChineseTitle
    description_zh: str = ChineseText
    return_exclusions: str = Field("", max_length=500, description=RETURN_EXCLUSIONS)
    return_exclusions_zh: str = Field("", max_length=500, description=RETURN_EXCLUSIONS_ZH)
    skus: list[SkuIn] = Field(default_factory=list, max_length=100)


class ProductPatch(Input):
    brand_id: int | None = None
    title: str | None = Field(None, max_length=300)
    declared_name: str | None = Field(None, max_length=300)
    description: str | None = Field(None, max_length=20000)
    images: list[str] | None = Field(None, max_length=20)
    origin_country: str | None = Field(None, max_length=16)
    hs_code: str | None = Field(None, max_length=16)
    legal_unit: str | None = Field(None, max_length=16)
    tax_category: TaxCategory | None = None
    title_zh: str | None = Field(None, max_length=300)
    description_zh: str | None = Field(None, max_length=20000)
    return_exclusions: str | None = Field(None, max_length=500, description=RETURN_EXCLUSIONS)
    return_exclusions_zh: str | None = Field(None, max_length=500, description=RETURN_EXCLUSIONS_ZH)


class ProductOut(BaseModel):
    id: int
    brand_id: int
    supplier_id: int
    title: str
    description: str
    images: list[str]
    origin_country: str
    hs_code: str
    legal_unit: str
    second_legal_unit: str | None
    declared_name: str
    tax_category: TaxCategory
    created_at: datetime
    updated_at: datetime
    title_zh: str
    description_zh: str
    return_exclusions: str = Field(description=RETURN_EXCLUSIONS)
    return_exclusions_zh: str = Field(description=RETURN_EXCLUSIONS_ZH)


class ProductDetailOut(ProductOut):
    skus: list[SkuOut]


class StockIn(Input):
    on_hand: int = Field(ge=0, le=MAX_UNITS, description="units physically in the warehouse")


class StockOut(BaseModel):
    sku_id: int
    warehouse_id: int
    warehouse_code: str
    warehouse_kind: WarehouseKind
    on_hand: int
    allotted: int = Field(description="units promised to flash-sale items")
    free: int = Field(description="on_hand - allotted: what new sale items may still take")
    updated_at: datetime


# --- brands ----------------------------------------------------------------------------------------


def _audited(ctx: Context, who: Principal, action: str) -> Context:
    """The context for one catalog command: a staff member's change goes in the audit log in the
    transaction of the change (services/context.py ``Context.audited``), as the console's does. A
    supplier user's edits of its own catalog are not staff actions; their outbox events record them."""
    return ctx.audited(who.user_id, action) if is_staff(who.role) else ctx


@router.post(
    "/brands",
    status_code=201,
    response_model=BrandOut,
    summary="Add a brand",
    **duty_doc(Duty.CATALOG, errors=(409, 422)),
)
async def create_brand(body: BrandIn, who: Principal = CatalogStaff, ctx: Context = Ctx) -> Brand:
    return await catalog.create_brand(_audited(ctx, who, "brand.created"), **body.model_dump())


@router.get("/brands", response_model=Page[BrandOut], summary="Browse brands", **public_doc(422))
async def list_brands(limit: int = Limit, offset: int = Offset, ctx: Context = Ctx) -> EntityPage[Brand]:
    return await catalog.list_brands(ctx, limit=limit, offset=offset)


@router.get("/brands/{brand_id}", response_model=BrandOut, summary="One brand", **public_doc(404, 422))
async def get_brand(brand_id: Id, ctx: Context = Ctx) -> Brand:
    return await catalog.get_brand(ctx, brand_id)


@router.patch(
    "/brands/{brand_id}",
    response_model=BrandOut,
    summary="Change a brand",
    **duty_doc(Duty.CATALOG, errors=(404, 409, 422)),
)
async def update_brand(
    brand_id: Id, body: BrandPatch, who: Principal = CatalogStaff, ctx: Context = Ctx
) -> Brand:
    audited = _audited(ctx, who, "brand.updated")
    return await catalog.update_brand(audited, brand_id, body.model_dump(exclude_unset=True))


# --- suppliers -------------------------------------------------------------------------------------


@router.post(
    "/suppliers",
    status_code=201,
    response_model=SupplierOut,
    summary="Add a supplier",
    **duty_doc(Duty.CATALOG, errors=(409, 422)),
)
async def create_supplier(body: SupplierIn, who: Principal = CatalogStaff, ctx: Context = Ctx) -> Supplier:
    return await catalog.create_supplier(_audited(ctx, who, "supplier.created"), **body.model_dump())


@router.get(
    "/suppliers",
    response_model=Page[SupplierOut],
    summary="List suppliers",
    **duty_doc(Duty.CATALOG, errors=(422,)),
)
async def list_suppliers(
    limit: int = Limit, offset: int = Offset, _: Principal = CatalogStaff, ctx: Context = Ctx
) -> EntityPage[Supplier]:
    return await catalog.list_suppliers(ctx, limit=limit, offset=offset)


@router.get(
    "/suppliers/{supplier_id}",
    response_model=SupplierOut,
    summary="One supplier (a supplier user: only its own)",
    **duty_doc(Duty.OWN_CATALOG, errors=(404, 422)),
)
async def get_supplier(supplier_id: Id, who: Principal = CatalogManager, ctx: Context = Ctx) -> Supplier:
    return await catalog.get_supplier(ctx, who, supplier_id)


# --- warehouses ------------------------------------------------------------------------------------


@router.post(
    "/warehouses",
    status_code=201,
    response_model=WarehouseOut,
    summary="Add a bonded or overseas warehouse",
    **duty_doc(Duty.CATALOG, errors=(409, 422)),
)
async def create_warehouse(body: WarehouseIn, who: Principal = CatalogStaff, ctx: Context = Ctx) -> Warehouse:
    return await catalog.create_warehouse(_audited(ctx, who, "warehouse.created"), **body.model_dump())


@router.get(
    "/warehouses",
    response_model=Page[WarehouseOut],
    summary="List warehouses",
    **duty_doc(Duty.OWN_CATALOG, errors=(422,)),
)
async def list_warehouses(
    limit: int = Limit, offset: int = Offset, _: Principal = CatalogManager, ctx: Context = Ctx
) -> EntityPage[Warehouse]:
    return await catalog.list_warehouses(ctx, limit=limit, offset=offset)


@router.get(
    "/warehouses/{warehouse_id}",
    response_model=WarehouseOut,
    summary="One warehouse",
    **duty_doc(Duty.OWN_CATALOG, errors=(404, 422)),
)
async def get_warehouse(warehouse_id: Id, _: Principal = CatalogManager, ctx: Context = Ctx) -> Warehouse:
    return await catalog.get_warehouse(ctx, warehouse_id)


# --- products --------------------------------------------------------------------------------------


@router.post(
    "/products",
    status_code=201,
    response_model=ProductDetailOut,
    summary="Add a product, optionally with its SKUs",
    description="The HS code must be on the positive list in force (`hs_code_not_on_positive_list`, "
    "422); the legal units come from its line (`legal_unit_mismatch` if one given differs). "
    "`declared_name` is the Chinese name customs reads; each SKU states `gmodel`, its net content "
    "and net weight, and its packaging weight.",
    **duty_doc(Duty.OWN_CATALOG, errors=(404, 409, 422)),
)
async def create_product(
    body: ProductIn, who: Principal = CatalogManager, ctx: Context = Ctx
) -> ProductWithSkus:
    audited = _audited(ctx, who, "product.created")
    return await catalog_products.create_product(audited, who, **body.model_dump())


@router.get(
    "/products",
    response_model=Page[ProductOut],
    summary="List products (a supplier user: only its own)",
    **duty_doc(Duty.OWN_CATALOG, errors=(422,)),
)
async def list_products(
    supplier_id: OptionalId = None,
    brand_id: OptionalId = None,
    limit: int = Limit,
    offset: int = Offset,
    who: Principal = CatalogManager,
    ctx: Context = Ctx,
) -> EntityPage[Product]:
    return await catalog_products.list_products(
        ctx, who, supplier_id=supplier_id, brand_id=brand_id, limit=limit, offset=offset
    )


@router.get(
    "/products/{product_id}",
    response_model=ProductDetailOut,
    summary="One product with its SKUs",
    **duty_doc(Duty.OWN_CATALOG, errors=(404, 422)),
)
async def get_product(product_id: Id, who: Principal = CatalogManager, ctx: Context = Ctx) -> ProductWithSkus:
    return await catalog_products.get_product(ctx, who, product_id)


@router.patch(
    "/products/{product_id}",
    response_model=ProductOut,
    summary="Change a product",
    **duty_doc(Duty.OWN_CATALOG, errors=(404, 422)),
)
async def update_product(
    product_id: Id, body: ProductPatch, who: Principal = CatalogManager, ctx: Context = Ctx
) -> Product:
    changes = body.model_dump(exclude_unset=True)
    audited = _audited(ctx, who, "product.updated")
    return await catalog_products.update_product(audited, who, product_id, changes)


# --- SKUs and stock --------------------------------------------------------------------------------


@router.post(
    "/products/{product_id}/skus",
    status_code=201,
    response_model=SkuOut,
    summary="Add a SKU to a product",
    **duty_doc(Duty.OWN_CATALOG, errors=(404, 409, 422)),
)
async def add_sku(product_id: Id, body: SkuIn, who: Principal = CatalogManager, ctx: Context = Ctx) -> Sku:
    audited = _audited(ctx, who, "sku.added")
    return await catalog_skus.add_sku(audited, who, product_id, **body.model_dump())


@router.get(
    "/skus/{sku_id}",
    response_model=SkuOut,
    summary="One SKU",
    **duty_doc(Duty.OWN_CATALOG, errors=(404, 422)),
)
async def get_sku(sku_id: Id, who: Principal = CatalogManager, ctx: Context = Ctx) -> Sku:
    return await catalog_skus.get_sku(ctx, who, sku_id)


@router.patch(
    "/skus/{sku_id}",
    response_model=SkuOut,
    summary="Change a SKU",
    **duty_doc(Duty.OWN_CATALOG, errors=(404, 409, 422)),
)
async def update_sku(sku_id: Id, body: SkuPatch, who: Principal = CatalogManager, ctx: Context = Ctx) -> Sku:
    changes = body.model_dump(exclude_unset=True)
    return await catalog_skus.update_sku(_audited(ctx, who, "sku.updated"), who, sku_id, changes)


@router.put(
    "/skus/{sku_id}/stock/{warehouse_id}",
    response_model=StockOut,
    summary="Set the units on hand of a SKU in a warehouse",
    description="Refused with 409 `stock_below_allotted` if on_hand would drop below the units already "
    "allotted to flash-sale items.",
    **duty_doc(Duty.OWN_CATALOG, errors=(404, 409, 422)),
)
async def set_stock(
    sku_id: Id, warehouse_id: Id, body: StockIn, who: Principal = CatalogManager, ctx: Context = Ctx
) -> StockEntry:
    audited = _audited(ctx, who, "stock.counted")
    return await catalog_stock.set_on_hand(audited, who, sku_id, warehouse_id, body.on_hand)


@router.get(
    "/skus/{sku_id}/stock",
    response_model=list[StockOut],
    summary="A SKU's stock per warehouse",
    **duty_doc(Duty.OWN_CATALOG, errors=(404, 422)),
)
async def list_stock(sku_id: Id, who: Principal = CatalogManager, ctx: Context = Ctx) -> list[StockEntry]:
    return await catalog_stock.stock_of(ctx, who, sku_id)


# --- the positive list -----------------------------------------------------------------------------


class ListedGoodsBody(BaseModel):
    hs_code: str = Field(max_length=16, examples=["1901101000"], description="10 digits")
    name: str = Field(max_length=300, examples=["供婴幼儿食用的零售包装配方奶粉"])
    legal_unit: str = Field(max_length=16, examples=["035"], description="first statutory unit (unit1)")
    second_legal_unit: str | None = Field(None, max_length=16, description="second statutory unit (unit2)")


class PositiveListIn(Input):
    edition: str = Field(max_length=64, examples=["2025-01"], description="a new name; loaded once")
    source: str = Field(max_length=600, description="who published it and when")
    goods: list[ListedGoodsBody] = Field(max_length=20_000, description="one line per 10-digit HS code")


class PositiveListOut(BaseModel):
    edition: str
    source: str
    packaged: bool = Field(description="true: the edition shipped with Flashport (no operator loaded one)")
    goods: list[ListedGoodsBody]


@router.get(
    "/catalog/positive-list",
    response_model=PositiveListOut,
    summary="The positive list of goods allowed in cross-border retail import, edition in force",
    **duty_doc(Duty.OWN_CATALOG),
)
async def get_positive_list(_: Principal = CatalogManager, ctx: Context = Ctx) -> positive_list.EditionView:
    return await positive_list.current_edition(ctx)


@router.post(
    "/catalog/positive-list",
    status_code=201,
    response_model=PositiveListOut,
    summary="Load a new edition of the positive list; it replaces the one in force",
    description="Products created, or whose HS code changes, from now on are checked against it "
    "(`hs_code_not_on_positive_list`, 422); products already in the catalog are left as they are. "
    "Errors: `invalid_positive_list`, `invalid_hs_code`, `invalid_unit` (422); "
    "`positive_list_edition_taken` (409).",
    **roles_doc(Role.OPERATOR, errors=(409, 422)),
)
async def load_positive_list(
    body: PositiveListIn, who: Principal = OperatorOnly, ctx: Context = Ctx
) -> positive_list.EditionView:
    lines = [line.model_dump() for line in body.goods]
    return await positive_list.load_edition(ctx, who, edition=body.edition, source=body.source, lines=lines)
