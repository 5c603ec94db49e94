"""The storefront as a buyer in mainland China meets it: on a phone whose browser prefers Chinese, every
step in Chinese, the price and the buy button on the first screen, the address chosen from the province,
city and district lists and saved for next time; and the language switch, remembered.

Screenshots of every page visited are kept under ``artifacts/screenshots/``.
"""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import expect

from flashport.services.accounts import addresses
from tests.e2e.conftest import Visit
from tests.sale_builder import make_sale

LI_NA = ("李娜", "110105199003070025")


def _on_first_screen(page: Any, selector: str) -> None:
    box = page.locator(selector).first.bounding_box()
    height = page.viewport_size["height"]
    assert box is not None and box["y"] >= 0 and box["y"] + box["height"] <= height, (selector, box, height)


def _fits(page: Any) -> None:
    overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"{page.url} scrolls sideways by {overflow}px"


def test_a_chinese_buyer_buys_and_checks_out_on_a_phone(chinese_phone_visit: Visit) -> None:
    visit = chinese_phone_visit
    server, page = visit.server, visit.page
    sale = server.run(make_sale(server.ctx, quantity=20, limit=2))
    buyer = visit.new_buyer()

    page.goto("/")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.get_by_role("heading", name="正在抢购")).to_be_visible()
    _fits(page)
    visit.snap("home")

    page.goto(f"/items/{sale.item_id}")
    expect(page.get_by_role("button", name="立即抢购")).to_be_enabled()
    _on_first_screen(page, ".price-block .sale-price")
    _on_first_screen(page, "[data-buy-button]")
    expect(page.locator("[data-trust-fact=origin]")).to_contain_text("新西兰")  # the origin in Chinese
    expect(page.locator("[data-trust-fact=returns]")).to_contain_text("天内可在订单页申请退货")
    _fits(page)
    visit.snap("item")
    page.get_by_role("button", name="立即抢购").click()
    expect(page).to_have_url(re.compile(r"/orders$"))
    card = page.locator(".order-card").first
    expect(card).to_contain_text("待付款")
    expect(page.locator("[data-flash]")).to_contain_text("抢到了")
    visit.snap("orders")

    card.get_by_role("link", name=re.compile("^去结算")).click()
    page.get_by_label(re.compile("^姓名")).fill(LI_NA[0])
    page.get_by_label("身份证号", exact=True).fill(LI_NA[1])
    page.get_by_label("收货人姓名").fill("李娜")
    page.get_by_label("手机号", exact=True).fill("13800138000")
    page.get_by_label("省份").select_option(label="浙江省")
    page.get_by_label("城市").select_option(label="杭州市")
    page.get_by_label("区县").select_option(label="西湖区")
    page.get_by_label("详细地址").fill("文三路 90 号 3 幢 501 室")
    expect(page.get_by_role("checkbox", name=re.compile("保存此地址"))).to_be_checked()
    _fits(page)
    visit.snap("checkout-form")
    page.get_by_role("button", name="确认结算").click()
    expect(page.locator("[data-flash]")).to_contain_text("结算完成")
    total = page.locator("[data-total]").inner_text()
    assert re.fullmatch(r"¥\d{1,3}(,\d{3})*\.\d\d", total), total
    expect(page.get_by_role("button", name=f"支付 {total}")).to_be_visible()
    expect(page.locator("#breakdown")).to_contain_text("浙江省杭州市西湖区 文三路 90 号 3 幢 501 室")
    _fits(page)
    visit.snap("checkout-breakdown")

    [saved] = server.run(addresses.list_addresses(server.ctx, buyer))
    assert saved.district_code == "330106"
    page.goto("/account/addresses")
    expect(page.locator(".identity-row")).to_contain_text("浙江省杭州市西湖区")
    _fits(page)
    visit.snap("addresses")


def test_the_language_switch_is_remembered(chinese_phone_visit: Visit) -> None:
    visit = chinese_phone_visit
    page = visit.page
    page.goto("/login")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.get_by_role("heading", name="登录")).to_be_visible()
    page.get_by_role("link", name="English").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    visit.snap("login-english")
    page.goto("/")
    expect(page.locator("html")).to_have_attribute("lang", "en")  # remembered over Accept-Language
    page.get_by_role("link", name="简体中文").click()
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    visit.snap("home-chinese")
