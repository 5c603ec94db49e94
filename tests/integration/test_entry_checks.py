"""Issue 14 point 5 at the doors: what no customs declaration could carry is refused where it enters,
through the public API, on SQLite and PostgreSQL, and nothing of it is stored."""

from __future__ import annotations

import json
from typing import Any

import httpx
import sqlalchemy as sa

from flashport import demo
from flashport.adapters.db.schema import brands, identities, orders, outbox, products, skus, warehouses
from flashport.domain.accounts import Role
from flashport.services.context import Context
from flashport.services.sales import buying
from tests.factories import auth, make_supplier
from tests.integration.test_catalog_api import (
    count,
    created,
    error_fields,
    headers_for,
    new_brand,
    product_body,
    sku_body,
)
from tests.sale_builder import make_buyers, make_sale

API = "/api/v1"
LI_NA = ("李娜", "11010519491231002X")


def refused(response: httpx.Response, code: str, fields: set[str]) -> dict[str, Any]:
    assert response.status_code == 422, response.text
    body: dict[str, Any] = response.json()
    assert body["code"] == code and error_fields(response) == fields, body
    return body


# --- the catalog -----------------------------------------------------------------------------------


async def test_a_product_whose_origin_customs_cannot_code_is_refused_and_not_stored(
    client: httpx.AsyncClient, ctx: Context
) -> None:
    op = await headers_for(ctx, Role.OPERATOR)
    supplier_id = await make_supplier(ctx)
    brand = await new_brand(client, op)
    events_before = await count(ctx, outbox)
    answer = await client.post(
        f"{API}/products", headers=op, json=product_body(brand["id"], supplier_id, origin_country="br")
    )
    body = refused(answer, "origin_not_declarable", {"origin_country"})
    assert "Brazil (BR)" in body["message"] and "Brazil (BR)" in body["details"][0]["message"]
    assert await count(ctx, products) == 0 and await count(ctx, outbox) == events_before


async def test_a_product_cannot_be_moved_to_an_origin_customs_cannot_code(
    client: httpx.AsyncClient, ctx: Context
) -> None:
    op = await headers_for(ctx, Role.OPERATOR)
    brand = await new_brand(client, op)
    product = await created(client, "/products", op, product_body(brand["id"], await make_supplier(ctx)))
    answer = await client.patch(f"{API}/products/{product['id']}", headers=op, json={"origin_country": "BR"})
    refused(answer, "origin_not_declarable", {"origin_country"})
    async with ctx.read() as conn:
        assert await conn.scalar(sa.select(products.c.origin_country)) == "DE"


async def test_an_overseas_warehouse_in_a_country_customs_cannot_code_is_refused(
    client: httpx.AsyncClient, ctx: Context
) -> None:
    op = await headers_for(ctx, Role.OPERATOR)
    body = {"code": "SP-1", "name": "Sao Paulo hub", "kind": "overseas", "country": "BR"}
    refused(
        await client.post(f"{API}/warehouses", headers=op, json=body), "country_not_declarable", {"country"}
    )
    assert await count(ctx, warehouses) == 0


async def test_catalog_texts_with_control_characters_are_refused_and_not_stored(
    client: httpx.AsyncClient, ctx: Context
) -> None:
    """A NUL used to reach the database: PostgreSQL refuses it in text, so it was a 500 there."""
    op = await headers_for(ctx, Role.OPERATOR)
    brand_answer = await client.post(
        f"{API}/brands", headers=op, json={"name": "Apta\x00mil", "country": "DE"}
    )
    refused(brand_answer, "invalid_characters", {"name"})
    assert await count(ctx, brands) == 0

    brand = await new_brand(client, op)
    supplier_id = await make_supplier(ctx)
    title = await client.post(
        f"{API}/products", headers=op, json=product_body(brand["id"], supplier_id, title="Aptamil\x07 1")
    )
    refused(title, "invalid_characters", {"title"})
    spec = {**sku_body(), "spec": "800 g\x1b[31m"}
    with_sku = await client.post(
        f"{API}/products", headers=op, json=product_body(brand["id"], supplier_id, skus=[spec])
    )
    refused(with_sku, "invalid_characters", {"skus.0.spec"})
    assert await count(ctx, products) == 0 and await count(ctx, skus) == 0


async def test_a_title_longer_than_customs_declares_is_refused_with_the_limit(
    client: httpx.AsyncClient, ctx: Context
) -> None:
    op = await headers_for(ctx, Role.OPERATOR)
    brand = await new_brand(client, op)
    supplier_id = await make_supplier(ctx)
    answer = await client.post(
        f"{API}/products", headers=op, json=product_body(brand["id"], supplier_id, title="奶" * 251)
    )
    body = refused(answer, "too_long", {"title"})
    assert "250" in body["details"][0]["message"]
    await created(client, "/products", op, product_body(brand["id"], supplier_id, title="奶" * 250))


async def test_the_demo_catalog_still_loads_through_the_entry_checks(ctx: Context) -> None:
    assert (await demo.load(ctx.settings)).startswith("demo loaded:")
    assert await count(ctx, products) == len(demo.PRODUCTS)
    assert await count(ctx, warehouses) == len(demo.WAREHOUSES)


# --- identities and checkout -----------------------------------------------------------------------


async def test_an_identity_with_a_nul_byte_is_refused_and_nothing_is_stored(
    client: httpx.AsyncClient, ctx: Context
) -> None:
    [(_, token)] = await make_buyers(ctx, 1)
    for name in ("李\x00娜", "李娜\x07", "李\n娜"):
        answer = await client.post(
            f"{API}/identities", headers=auth(token), json={"name": name, "id_number": LI_NA[1]}
        )
        body = refused(answer, "invalid_characters", {"name"})
        assert LI_NA[1] not in json.dumps(body)
    nul_number = await client.post(
        f"{API}/identities", headers=auth(token), json={"name": LI_NA[0], "id_number": LI_NA[1] + "\x00"}
    )
    refused(nul_number, "invalid_characters", {"id_number"})
    # A lone surrogate, as a JSON escape: the request parser refuses it (the rules would too).
    raw = json.dumps({"name": "\ud800娜", "id_number": LI_NA[1]})  # ASCII: the surrogate as \ud800
    surrogate = await client.post(
        f"{API}/identities", headers={**auth(token), "content-type": "application/json"}, content=raw
    )
    assert surrogate.status_code == 422, surrogate.text
    assert await count(ctx, identities) == 0


async def _bought_order(ctx: Context, buyer: int) -> str:
    sale = await make_sale(ctx, quantity=10, limit=2, price_fen=9_900, original_fen=29_700)
    bought = await buying.buy(ctx, buyer, sale.item_id, 1, f"k-{sale.item_id}-{buyer}")
    return str(bought.order["order_no"])


def _form(identity_id: int, **changes: Any) -> dict[str, Any]:
    form = {
        "consignee_name": "李娜",
        "consignee_phone": "138 0013 8000",
        "consignee_address": "浙江省杭州市西湖区文三路 90 号",
        "consignee_district": "330106",
        "identity_id": identity_id,
    }
    return {**form, **changes}


async def test_checkout_refuses_a_consignee_customs_xml_cannot_carry(
    client: httpx.AsyncClient, ctx: Context
) -> None:
    [(buyer, token)] = await make_buyers(ctx, 1)
    order_no = await _bought_order(ctx, buyer)
    added = await client.post(
        f"{API}/identities", headers=auth(token), json={"name": LI_NA[0], "id_number": LI_NA[1]}
    )
    identity_id = added.json()["id"]
    checkout = f"{API}/orders/{order_no}/checkout"
    for field, value in [
        ("consignee_name", "李\x07娜"),
        ("consignee_phone", "138\x000013 8000"),
        ("consignee_address", "文三路\x00 90 号"),
        ("consignee_address", "文三路\x85 90 号"),
        ("consignee_district", "33010\x0b"),
    ]:
        answer = await client.post(checkout, headers=auth(token), json=_form(identity_id, **{field: value}))
        refused(answer, "invalid_characters", {field})
    async with ctx.read() as conn:
        stored = (await conn.execute(sa.select(orders.c.consignee_name, orders.c.consignee_address))).one()
    assert tuple(stored) == (None, None)

    # An address typed over several lines is folded to one, as customs declares it.
    folded = await client.post(
        checkout,
        headers=auth(token),
        json=_form(identity_id, consignee_address="浙江省杭州市\r\n文三路 90 号"),
    )
    assert folded.status_code == 200, folded.text
    async with ctx.read() as conn:
        assert await conn.scalar(sa.select(orders.c.consignee_address)) == "浙江省杭州市 文三路 90 号"
