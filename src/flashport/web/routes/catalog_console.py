"""The console's catalog pages (merchandisers and operators): brands, suppliers, warehouses and products
on one page with a form for each; one product with its images (uploaded to the image store), SKUs and
stock per warehouse. Every post carries the session's CSRF token and is audited
(services/catalog/console.py). Uploaded images are served at ``/media/images/<key>``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter
from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import Response

from flashport.adapters.images import image_store
from flashport.domain.access import Duty
from flashport.domain.accounts import Principal, Role
from flashport.domain.catalog import TaxCategory
from flashport.domain.errors import DomainError, FieldProblem, InvalidInput
from flashport.domain.images import MAX_IMAGE_BYTES
from flashport.services.catalog import console, products, reference, stock
from flashport.web import answers, console_refusals, guard
from flashport.web.console_guard import staff_only
from flashport.web.errors import WebRoute
from flashport.web.guard import Id
from flashport.web.i18n import N_, request_language, tr
from flashport.web.session import WebSession
from flashport.web.state import service_context

router = APIRouter(prefix="/operator/catalog", route_class=WebRoute, include_in_schema=False)
media = APIRouter(route_class=WebRoute, include_in_schema=False)
LISTED = 200
CREATED = {
    "brands": N_("Brand %(id)s created."),
    "suppliers": N_("Supplier %(id)s created."),
    "warehouses": N_("Warehouse %(id)s created."),
}
FORMS: dict[str, tuple[str, ...]] = {
    "brands": ("name", "country", "description", "name_zh"),
    "suppliers": ("name", "country", "contact_email"),
    "warehouses": ("code", "name", "kind", "customs_district", "country", "ems_no", "area_code"),
    "products": (
        "brand_id",
        "supplier_id",
        "title",
        "declared_name",
        "origin_country",
        "hs_code",
        "legal_unit",
        "tax_category",
        "description",
        "return_exclusions",
        "return_exclusions_zh",
    ),
    "skus": (
        "code",
        "title",
        "original_price",
        "weight_grams",
        "unit",
        "spec",
        "barcode",
        "gmodel",
        "net_content",
        "net_content_unit",
        "net_weight_grams",
        "packaging_weight_grams",
        "item_record_no",
    ),
}
WHOLE_NUMBERS = {"brand_id", "supplier_id", "weight_grams", "net_weight_grams", "packaging_weight_grams"}


def _staff(session: WebSession) -> Principal:
    user_id = staff_only(session, Duty.CATALOG)
    return Principal(user_id, Role(session.role or ""))


@router.get("")
async def catalog_page(request: Request) -> Response:
    session = answers.load_session(request)
    who = _staff(session)
    return await _catalog(request, session, who)


async def _catalog(request: Request, session: WebSession, who: Principal, **extra: Any) -> Response:
    ctx = service_context(request)
    return answers.page(
        request,
        session,
        "operator_catalog.html",
        status=extra.pop("status", 200),
        brands=(await reference.list_brands(ctx, limit=LISTED, offset=0)).items,
        suppliers=(await reference.list_suppliers(ctx, limit=LISTED, offset=0)).items,
        warehouses=(await reference.list_warehouses(ctx, limit=LISTED, offset=0)).items,
        products=(await products.list_products(ctx, who, limit=LISTED, offset=0)).items,
        values=extra.pop("values", {}),
        problem=extra.pop("problem", None),
        chosen=extra.pop("chosen", ""),
        max_image=MAX_IMAGE_BYTES,
        tax_categories=[category.value for category in TaxCategory],
    )


# A product's fields the catalog service must be given (an empty one is said as a field's problem).
PRODUCT_REQUIRED = ("title", "origin_country", "hs_code", "legal_unit", "tax_category")


@router.post("/{kind}")
async def create(request: Request, kind: str) -> Response:
    session = answers.load_session(request)
    form = await guard.posted_form(request, session, max_files=1, max_fields=30)
    who = _staff(session)
    ctx = service_context(request)
    if kind not in ("brands", "suppliers", "warehouses", "products"):
        raise InvalidInput(f"there is nothing to create called {kind[:20]}", code="unknown_kind")
    fields = _fields(form, FORMS[kind])
    try:
        if kind == "products":
            for name in PRODUCT_REQUIRED:  # left empty: refused by the field checks with the rest
                fields.setdefault(name, None)
            created: Any = await console.create_product(
                ctx, who, image_store(ctx.settings.data_dir), await _image(form), **fields
            )
            session.flash(
                "success", tr(request, "Product %(id)s created: add its SKUs and stock.") % {"id": created.id}
            )
            return answers.redirect(request, session, f"/operator/catalog/products/{created.id}")
        made: dict[str, Callable[..., Awaitable[Any]]] = {
            "brands": console.create_brand,
            "suppliers": console.create_supplier,
            "warehouses": console.create_warehouse,
        }
        created = await made[kind](ctx, who, **fields)
    except DomainError as exc:
        return await _catalog(
            request, session, who, values=fields, problem=_sentence(request, exc), chosen=kind, status=422
        )
    session.flash("success", tr(request, CREATED[kind]) % {"id": created.id})
    return answers.redirect(request, session, "/operator/catalog")


@router.get("/products/{product_id}")
async def product_page(request: Request, product_id: Id) -> Response:
    session = answers.load_session(request)
    who = _staff(session)
    return await _product(request, session, who, product_id)


async def _product(
    request: Request, session: WebSession, who: Principal, product_id: int, **extra: Any
) -> Response:
    ctx = service_context(request)
    found = await products.get_product(ctx, who, product_id)
    levels = {sku.id: await stock.stock_of(ctx, who, sku.id) for sku in found.skus}
    return answers.page(
        request,
        session,
        "operator_product.html",
        status=extra.pop("status", 200),
        product=found,
        levels=levels,
        warehouses=(await reference.list_warehouses(ctx, limit=LISTED, offset=0)).items,
        values=extra.pop("values", {}),
        problem=extra.pop("problem", None),
        max_image=MAX_IMAGE_BYTES,
        chosen="skus",
    )


@router.post("/products/{product_id}/{action}")
async def product_action(request: Request, product_id: Id, action: str) -> Response:
    session = answers.load_session(request)
    form = await guard.posted_form(request, session, max_files=1, max_fields=30)
    who = _staff(session)
    ctx = service_context(request)
    fields: dict[str, Any] = {}
    try:
        if action == "images":
            await console.add_image(
                ctx, who, image_store(ctx.settings.data_dir), product_id, await _image(form)
            )
            done = tr(request, "Image added.")
        elif action == "skus":
            fields = _fields(form, FORMS["skus"])
            sku = await console.add_sku(ctx, who, product_id, **fields)
            done = tr(request, "SKU %(code)s added.") % {"code": sku.code}
        elif action == "stock":
            numbers = _fields(
                form, ("sku_id", "warehouse_id", "on_hand"), whole=("sku_id", "warehouse_id", "on_hand")
            )
            await console.set_stock(ctx, who, product_id, **numbers)
            done = tr(request, "Stock counted.")
        else:
            raise InvalidInput(f"no such action: {action[:20]}", code="unknown_action")
    except DomainError as exc:
        if exc.code in ("product_not_found",):
            raise
        return await _product(
            request, session, who, product_id, values=fields, problem=_sentence(request, exc), status=422
        )
    session.flash("success", done)
    return answers.redirect(request, session, f"/operator/catalog/products/{product_id}")


@media.get("/media/images/{key}")
async def image(request: Request, key: str) -> Response:
    """An uploaded product image: public, as the storefront shows it; never changes, so cached for ever."""
    found = await image_store(service_context(request).settings.data_dir).get(key[:80])
    if found is None:
        return Response(status_code=404)
    headers = {"cache-control": "public, max-age=31536000, immutable", "x-content-type-options": "nosniff"}
    return Response(found.data, media_type=found.content_type, headers=headers)


def _fields(form: FormData, names: tuple[str, ...], whole: tuple[str, ...] = ()) -> dict[str, Any]:
    """The form's non-empty fields among ``names``; whole numbers as ints (a wrong one is 422)."""
    chosen: dict[str, Any] = {}
    for name in names:
        value = form.get(name)
        text = value.strip() if isinstance(value, str) else ""
        if not text:
            continue
        if name in WHOLE_NUMBERS or name in whole:
            if not (text.isascii() and text.isdigit() and len(text) <= 18):
                raise InvalidInput(
                    f"{name.replace('_', ' ')} is a whole number",
                    code="invalid_number",
                    details=[FieldProblem(name, "a whole number", "invalid_number")],
                )
            chosen[name] = int(text)
        else:
            chosen[name] = text
    return chosen


async def _image(form: FormData) -> bytes:
    upload = form.get("image")
    if not isinstance(upload, UploadFile):
        raise InvalidInput("choose an image file", code="invalid_image")
    return await upload.read(MAX_IMAGE_BYTES + 1)


def _sentence(request: Request, exc: DomainError) -> str:
    """The refusal above the form, with each field's problem when there are several."""
    return console_refusals.said(request_language(request), exc)
