"""The console's catalog pages (issue 16 point 1, catalog): a merchandiser adds a brand, a supplier, a
warehouse and a product with an uploaded image (kept by the disk image store, served back as it was),
then a SKU and its stock; a file that is not a PNG, JPEG or WebP is refused; every action audited;
customer service may not."""

from __future__ import annotations

import re
import struct
import zlib
from collections.abc import AsyncIterator

import httpx
import pytest
import sqlalchemy as sa

from flashport.adapters.db.schema import operator_audit
from flashport.app import create_app
from flashport.domain.accounts import Role
from flashport.services.context import Context
from flashport.web import session as web_session
from tests.factories import make_user

CSRF = "catalog-csrf"


def _png() -> bytes:
    """A real 1x1 PNG, chunk by chunk (signature, IHDR, IDAT, IEND)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00"))
        + chunk(b"IEND", b"")
    )


@pytest.fixture
async def http(ctx: Context) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(ctx=ctx))
    # The console is read in English here (its second language; tests/integration/test_console_language.py
    # reads it in Chinese, its default).
    english = {"accept-language": "en"}
    async with httpx.AsyncClient(transport=transport, base_url="http://shop.test", headers=english) as client:
        yield client


async def _log_in(http: httpx.AsyncClient, ctx: Context, role: Role) -> int:
    user_id, _ = await make_user(ctx, role)
    data = {"uid": user_id, "role": role.value, "name": role.value, "csrf": CSRF}
    http.cookies.clear()
    http.cookies.set(
        web_session.COOKIE, web_session.encode(data, ctx.settings.keys.secret, 3600), domain="shop.test"
    )
    return user_id


def _id(page: str, attribute: str, text: str) -> int:
    found = re.search(rf'data-{attribute}-id="(\d+)">{re.escape(text)}', page)
    assert found, f"{attribute} {text} not on the page"
    return int(found.group(1))


async def test_a_merchandiser_builds_a_product_with_an_uploaded_image_a_sku_and_its_stock(
    ctx: Context, http: httpx.AsyncClient
) -> None:
    merchandiser = await _log_in(http, ctx, Role.MERCHANDISER)
    post = {"csrf_token": CSRF}
    assert (
        await http.post("/operator/catalog/brands", data={**post, "name": "Aptamil", "country": "DE"})
    ).status_code == 303
    assert (
        await http.post(
            "/operator/catalog/suppliers", data={**post, "name": "Danone Nutricia", "country": "DE"}
        )
    ).status_code == 303
    warehouse = {
        "code": "HZ-1",
        "name": "Hangzhou bonded",
        "kind": "bonded",
        "customs_district": "3105",
        "area_code": "3105W60001",
    }
    assert (await http.post("/operator/catalog/warehouses", data={**post, **warehouse})).status_code == 303
    catalog = (await http.get("/operator/catalog")).text
    brand_id, supplier_id = _id(catalog, "brand", "Aptamil"), _id(catalog, "supplier", "Danone Nutricia")
    warehouse_id = _id(catalog, "warehouse", "HZ-1")

    product = {
        **post,
        "brand_id": str(brand_id),
        "supplier_id": str(supplier_id),
        "title": "Aptamil Pronutra 1",
        "declared_name": "爱他美婴儿配方奶粉1段",
        "origin_country": "DE",
        "hs_code": "0402290000",
        "legal_unit": "035",
        "tax_category": "reduced_vat",
    }
    svg = await http.post(
        "/operator/catalog/products",
        data=product,
        files={"image": ("x.png", b"<svg onload=alert(1)>", "image/png")},
    )
    assert svg.status_code == 422 and "PNG, JPEG or WebP" in svg.text
    made = await http.post(
        "/operator/catalog/products", data=product, files={"image": ("tin.png", _png(), "image/png")}
    )
    assert made.status_code == 303, made.text
    product_url = made.headers["location"]
    page = (await http.get(product_url)).text
    [image_url] = re.findall(r'<img src="([^"]+)"', page)
    served = await http.get(image_url)
    assert (served.status_code, served.content, served.headers["content-type"]) == (200, _png(), "image/png")
    assert (await http.get("/media/images/../../etc/passwd")).status_code == 404

    sku = {
        **post,
        "code": "APT-1-800",
        "title": "800 g tin",
        "original_price": "129.00",
        "weight_grams": "1100",
        "unit": "122",
        "gmodel": "品牌:爱他美|规格:800克/罐|成分:脱脂乳、乳糖、植物油",
        "net_content": "800",
        "net_content_unit": "g",
        "net_weight_grams": "800",
        "packaging_weight_grams": "300",
    }
    added = await http.post(f"{product_url}/skus", data=sku)
    assert added.status_code == 303, re.findall(r"data-problem>([^<]+)", added.text)
    sku_id = re.search(r'name="sku_id" value="(\d+)"', (await http.get(product_url)).text)
    assert sku_id
    counted = await http.post(
        f"{product_url}/stock",
        data={**post, "sku_id": sku_id.group(1), "warehouse_id": str(warehouse_id), "on_hand": "40"},
    )
    assert counted.status_code == 303
    assert 'data-stock="HZ-1">HZ-1: 40 on hand, 0 allotted' in (await http.get(product_url)).text

    async with ctx.read() as conn:
        audit = (
            await conn.execute(
                sa.select(operator_audit.c.action, operator_audit.c.operator_id).order_by(operator_audit.c.id)
            )
        ).all()
    assert [a.action for a in audit] == [
        "brand.created",
        "supplier.created",
        "warehouse.created",
        "product.created",
        "sku.added",
        "stock.counted",
    ]
    assert {a.operator_id for a in audit} == {merchandiser}


async def test_customer_service_cannot_open_the_catalog(ctx: Context, http: httpx.AsyncClient) -> None:
    await _log_in(http, ctx, Role.CUSTOMER_SERVICE)
    assert (await http.get("/operator/catalog", headers={"accept": "application/json"})).status_code == 403
