"""The basket in a real browser on a phone: add two items, watch the hold's countdown, refuse an item
from another warehouse, take a unit out, check the basket out as one order. In English and in
Chinese. Screenshots under ``artifacts/screenshots/``."""

from __future__ import annotations

import re

import sqlalchemy as sa
from playwright.sync_api import expect

from flashport.adapters.db.schema import sale_items
from flashport.services.context import Context
from tests.e2e.conftest import LiveServer, Visit
from tests.sale_builder import Sale, make_sale


async def _same_warehouse(ctx: Context, first: Sale, other: Sale) -> None:
    async with ctx.transaction() as tx:
        warehouse = sa.select(sale_items.c.warehouse_id).where(sale_items.c.id == first.item_id)
        await tx.conn.execute(
            sale_items.update()
            .where(sale_items.c.id == other.item_id)
            .values(warehouse_id=warehouse.scalar_subquery())
        )


def _three_sales(server: LiveServer) -> tuple[Sale, Sale, Sale]:
    milk = server.run(make_sale(server.ctx, quantity=5, limit=2))
    cream = server.run(make_sale(server.ctx, quantity=5, limit=2, price_fen=5900, original_fen=15900))
    abroad = server.run(make_sale(server.ctx, quantity=5, limit=2, overseas=True))
    server.run(_same_warehouse(server.ctx, milk, cream))
    return milk, cream, abroad


def _fits(visit: Visit) -> None:
    overflow = visit.page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"{visit.page.url} scrolls sideways by {overflow}px"


def _journey(visit: Visit, words: dict[str, str]) -> None:
    server, page = visit.server, visit.page
    milk, cream, abroad = _three_sales(server)
    visit.new_buyer()
    page.goto(f"/items/{milk.item_id}")
    _fits(visit)
    visit.snap("item")
    page.get_by_role("button", name=words["add"]).click()
    expect(page).to_have_url(re.compile(r"/basket$"))
    page.goto(f"/items/{cream.item_id}")
    page.get_by_role("button", name=words["add"]).click()
    expect(page).to_have_url(re.compile(r"/basket$"))
    expect(page.locator("[data-basket-unit]")).to_have_count(2)
    expect(page.locator("[data-basket-timer]")).to_contain_text(words["held"])
    # Counting down from the first add's twenty minutes (a loaded machine may take a while to get here).
    expect(page.locator("[data-basket-timer] [role=timer]")).to_have_text(re.compile(r"^00:1\d:\d\d$"))
    _fits(visit)
    visit.snap("basket-two-units")
    page.goto(f"/items/{abroad.item_id}")
    page.get_by_role("button", name=words["add"]).click()
    expect(page).to_have_url(re.compile(rf"/items/{abroad.item_id}$"))
    expect(page.get_by_text(words["other_warehouse"])).to_be_visible()
    _fits(visit)
    visit.snap("other-warehouse-refused")
    page.goto("/basket")
    page.locator("[data-basket-unit]").first.get_by_role("button", name=words["remove"]).click()
    expect(page.locator("[data-basket-unit]")).to_have_count(1)
    expect(page.get_by_text(words["removed"])).to_be_visible()
    visit.snap("basket-one-removed")
    assert server.run(server.ctx.stock.remaining([milk.item_id, cream.item_id])) == {
        milk.item_id: 5,
        cream.item_id: 4,
    }
    # Checking out: the basket becomes one order listing both items, on to its checkout and payment.
    page.goto(f"/items/{milk.item_id}")
    page.get_by_role("button", name=words["add"]).click()
    expect(page.locator("[data-basket-unit]")).to_have_count(2)
    page.locator("[data-basket-checkout]").get_by_role("button", name=words["check_out"]).click()
    expect(page).to_have_url(re.compile(r"/orders/FP\w+#checkout$"))
    expect(page.locator("[data-order-line]")).to_have_count(2)
    expect(page.locator("#checkout")).to_be_visible()
    _fits(visit)
    visit.snap("basket-checked-out")
    assert server.run(server.ctx.stock.remaining([milk.item_id, cream.item_id])) == {
        milk.item_id: 4,
        cream.item_id: 4,
    }


def test_a_buyer_fills_and_empties_a_basket_on_a_phone(phone_visit: Visit) -> None:
    _journey(
        phone_visit,
        {
            "add": "Add one to basket",
            "held": "Your basket is held for another",
            "other_warehouse": "ships from another warehouse",
            "remove": "Remove",
            "removed": "Removed from your basket",
            "check_out": "Check out",
        },
    )


def test_a_chinese_buyer_fills_and_empties_a_basket_on_a_phone(chinese_phone_visit: Visit) -> None:
    _journey(
        chinese_phone_visit,
        {
            "add": "加入购物篮",
            "held": "购物篮保留剩余时间",
            "other_warehouse": "不在同一仓库发货",
            "remove": "删除",
            "removed": "已从购物篮移除",
            "check_out": "去结算",
        },
    )
