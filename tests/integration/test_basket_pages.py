"""The basket over HTTP: the API operations (status codes, machine-readable codes) and the storefront's
pages in both languages, without a browser."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest
import sqlalchemy as sa

from flashport.adapters.db.schema import sale_items
from flashport.app import create_app
from flashport.services.context import Context
from tests.factories import auth
from tests.integration.test_web_pages import CSRF, log_in_as
from tests.sale_builder import Sale, make_buyers, make_sale


@pytest.fixture
async def shop(ctx: Context) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(ctx=ctx))
    async with httpx.AsyncClient(transport=transport, base_url="http://shop.test") as http:
        yield http


async def _same_warehouse(ctx: Context, first: Sale, other: Sale) -> None:
    async with ctx.transaction() as tx:
        warehouse = sa.select(sale_items.c.warehouse_id).where(sale_items.c.id == first.item_id)
        await tx.conn.execute(
            sale_items.update()
            .where(sale_items.c.id == other.item_id)
            .values(warehouse_id=warehouse.scalar_subquery())
        )


async def test_the_api_adds_shows_and_removes_units_with_clear_errors(
    ctx: Context, shop: httpx.AsyncClient
) -> None:
    milk = await make_sale(ctx, quantity=3, limit=2)
    cream = await make_sale(ctx, quantity=3, limit=2)
    abroad = await make_sale(ctx, quantity=3, limit=2, overseas=True)
    await _same_warehouse(ctx, milk, cream)
    [(_, token)] = await make_buyers(ctx, 1)
    headers = auth(token)

    async def add(item_id: int, key: str | None) -> httpx.Response:
        extra = {} if key is None else {"idempotency-key": key}
        return await shop.post(
            "/api/v1/basket/items", json={"sale_item_id": item_id}, headers=headers | extra
        )

    first = await add(milk.item_id, "k1")
    assert first.status_code == 201, first.text
    assert first.json()["seconds_left"] == pytest.approx(1200, abs=2)
    assert (await add(milk.item_id, "k1")).status_code == 200  # the retry: nothing more reserved
    second = await add(cream.item_id, "k2")
    assert second.status_code == 201 and len(second.json()["units"]) == 2
    assert second.json()["goods_value"] == "198.00" and second.json()["single_transaction_limit"] == "5000.00"
    other = await add(abroad.item_id, "k3")
    assert other.status_code == 409 and other.json()["code"] == "basket_other_warehouse"
    assert "warehouse" in other.json()["message"]
    missing = await add(milk.item_id, None)
    assert missing.status_code == 422 and missing.json()["code"] == "idempotency_key_required"
    unknown = await add(999_999, "k4")
    assert unknown.status_code == 404 and unknown.json()["code"] == "sale_item_not_found"
    order_no = first.json()["added_order_no"]
    removed = await shop.delete(f"/api/v1/basket/items/{order_no}", headers=headers)
    assert removed.status_code == 200 and [u["sale_item_id"] for u in removed.json()["units"]] == [
        cream.item_id
    ]
    again = await shop.delete(f"/api/v1/basket/items/{order_no}", headers=headers)
    assert again.status_code == 409 and again.json()["code"] == "order_not_cancellable"
    gone = await shop.delete("/api/v1/basket/items/FP000", headers=headers)
    assert gone.status_code == 404 and gone.json()["code"] == "basket_unit_not_found"
    shown = await shop.get("/api/v1/basket", headers=headers)
    assert shown.status_code == 200 and len(shown.json()["units"]) == 1
    assert (await shop.get("/api/v1/basket")).status_code == 401


@pytest.mark.parametrize(
    ("language", "add_label", "held", "other_warehouse"),
    [
        ("en-GB,en;q=0.9", "Add one to basket", "Your basket is held for another", "another warehouse"),
        ("zh-CN,zh;q=0.9", "加入购物篮", "购物篮保留剩余时间", "不在同一仓库发货"),
    ],
)
async def test_the_storefront_basket_in_both_languages(
    ctx: Context, shop: httpx.AsyncClient, language: str, add_label: str, held: str, other_warehouse: str
) -> None:
    milk = await make_sale(ctx, quantity=3, limit=2)
    abroad = await make_sale(ctx, quantity=3, limit=2, overseas=True)
    [(buyer, _)] = await make_buyers(ctx, 1)
    shop.headers["accept-language"] = language
    log_in_as(shop, ctx, buyer)
    item_page = (await shop.get(f"/items/{milk.item_id}")).text
    assert add_label in item_page and f'action="/items/{milk.item_id}/basket"' in item_page
    key = re.search(
        r'action="/items/\d+/basket">\s*<input[^>]*>\s*'
        r'<input type="hidden" name="idempotency_key" value="([^"]+)"',
        item_page,
    )
    assert key is not None
    form = {"csrf_token": CSRF, "idempotency_key": key.group(1)}
    added = await shop.post(f"/items/{milk.item_id}/basket", data=form)
    assert added.status_code == 303 and added.headers["location"] == "/basket"
    page = (await shop.get("/basket")).text
    assert held in page and 'role="timer"' in page and "¥99.00" in page
    refused = await shop.post(
        f"/items/{abroad.item_id}/basket", data={"csrf_token": CSRF, "idempotency_key": "x2"}
    )
    assert refused.headers["location"] == f"/items/{abroad.item_id}"
    assert other_warehouse in (await shop.get(f"/items/{abroad.item_id}")).text
    order_no = re.search(r'data-basket-unit="([^"]+)"', page)
    assert order_no is not None
    removed = await shop.post(f"/basket/{order_no.group(1)}/remove", data={"csrf_token": CSRF})
    assert removed.status_code == 303
    assert 'data-basket-unit="' not in (await shop.get("/basket")).text
    assert await ctx.stock.remaining([milk.item_id]) == {milk.item_id: 3}
