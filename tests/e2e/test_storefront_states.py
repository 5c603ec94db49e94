"""Honest states in a real browser (issue 17, points 3 to 5), in Chinese on a phone and in English on a
desktop: a fully reserved sale on the home, event and item pages, with the time its units may come
back; a payment that did not go through (the sandbox's Decline), said with its reason and what to do
next; back from paying, "payment received, confirming" and never an active Pay button, then paid.

Screenshots of every state are kept under ``artifacts/screenshots/``.
"""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import expect

from flashport.domain.accounts import Role
from flashport.services.accounts import identities
from flashport.services.orders import checkout
from flashport.services.sales import buying
from flashport.web import formatting
from tests.e2e.conftest import LiveServer, Visit
from tests.factories import make_user
from tests.sale_builder import make_sale

# The sandbox payment page's prefilled payer: checking out as the same person lets the payment settle.
LI_NA = ("李娜", "110105199003070025")
CHINESE = {
    "reserved": "已被抢光",
    "may_come_back": "可能重新开售",
    "refused": "付款被拒",
    "refused_why": "未成功",
    "what_to_do": "重新付款",
    "awaiting": "待付款",
    "pay": "支付",
    "confirming": "已收到付款，确认中",  # noqa: RUF001
    "paid": "已付款",
    "locale": "zh_Hans_CN",
}
ENGLISH = {
    "reserved": "All reserved",
    "may_come_back": "units may come back",
    "refused": "Payment refused",
    "refused_why": "did not go through",
    "what_to_do": "pay again",
    "awaiting": "Awaiting payment",
    "pay": "Pay",
    "confirming": "Payment received, confirming",
    "paid": "Paid",
    "locale": "en_GB",
}


def _on_first_screen(page: Any, selector: str) -> None:
    box = page.locator(selector).first.bounding_box()
    height = page.viewport_size["height"]
    assert box is not None and box["y"] >= 0 and box["y"] + box["height"] <= height, (selector, box, height)


def _fits(page: Any) -> None:
    overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"{page.url} scrolls sideways by {overflow}px"


def _fully_reserved(visit: Visit, words: dict[str, str]) -> None:
    server, page = visit.server, visit.page
    sale = server.run(make_sale(server.ctx, quantity=1, limit=1))
    other, _ = server.run(make_user(server.ctx, Role.BUYER))
    order = server.run(buying.buy(server.ctx, other, sale.item_id, 1, f"last-{sale.item_id}")).order
    at = formatting.china_time(order["payment_deadline"], words["locale"])

    page.goto("/")
    card = page.locator(".event-card", has=page.locator(f'a[href="/events/{sale.event_id}"]'))
    expect(card.locator("[data-all-reserved]")).to_have_text(words["reserved"])
    expect(card).to_contain_text(words["may_come_back"])
    expect(card.locator("[data-units-back] time")).to_have_text(at)
    card.scroll_into_view_if_needed()
    _fits(page)
    visit.snap("home-all-reserved")

    page.goto(f"/events/{sale.event_id}")
    expect(page.locator(".event-hero [data-all-reserved]")).to_be_visible()
    expect(page.locator(".event-hero [data-units-back] time")).to_have_text(at)
    _fits(page)
    visit.snap("event-all-reserved")

    page.goto(f"/items/{sale.item_id}")
    button = page.locator(".buy-area .button-buy")  # a visitor's: disabled, saying why
    expect(button).to_be_disabled()
    expect(button).to_have_text(words["reserved"])
    expect(page.locator("[data-sold-out-note]")).to_be_visible()
    expect(page.locator("[data-sold-out-note] [data-units-back] time")).to_have_text(at)
    _on_first_screen(page, ".price-block .sale-price")
    _on_first_screen(page, ".buy-area .button-buy")
    _fits(page)
    visit.snap("item-all-reserved")


def _checked_out_order(server: LiveServer, buyer: int) -> str:
    sale = server.run(make_sale(server.ctx, quantity=5, limit=1))
    order_no: str = server.run(buying.buy(server.ctx, buyer, sale.item_id, 1, f"pay-{sale.item_id}")).order[
        "order_no"
    ]
    person = server.run(identities.add_identity(server.ctx, buyer, *LI_NA))
    form = checkout.CheckoutForm("李娜", "13800138000", "上海市浦东新区世纪大道100号", None, person.id)
    server.run(checkout.check_out(server.ctx, buyer, order_no, form))
    return order_no


def _declined_then_paid(visit: Visit, words: dict[str, str]) -> None:
    server, page = visit.server, visit.page
    order_no = _checked_out_order(server, visit.new_buyer())
    page.goto(f"/orders/{order_no}")
    page.locator("[data-pay-button]").click()
    expect(page).to_have_url(re.compile(r"/sandbox/"))
    provider_page = page.url

    # As if back from the provider before its notification arrived: received, being confirmed.
    page.goto(f"/orders?out_trade_no={order_no}&trade_no=2026120322001")
    card = page.locator(f'[data-order-no="{order_no}"]')
    expect(card.locator("[data-payment-confirming]")).to_have_text(words["confirming"])
    expect(card.locator("[data-pay-button]")).to_have_count(0)
    expect(card.locator("[data-continue-payment]")).to_have_count(0)
    _fits(page)
    visit.snap("orders-confirming")

    # The buyer declines on the provider's page: the closing notification settles, the page follows.
    page.goto(provider_page)
    page.get_by_role("button", name="Decline").click()
    expect(page).to_have_url(re.compile(rf"/orders\?.*out_trade_no={order_no}&"))
    card = page.locator(f'[data-order-no="{order_no}"]')
    expect(card.locator("[data-status-label]")).to_have_text(words["refused"], timeout=30000)
    expect(card.locator("[data-payment-refused]")).to_contain_text(words["refused_why"])
    expect(card.locator("[data-payment-refused] .next-step")).to_contain_text(words["what_to_do"])
    expect(card).not_to_contain_text(words["awaiting"])
    _fits(page)
    visit.snap("orders-refused")

    # Paying again, as the card says: a new trade, confirmed this time.
    card.locator("[data-pay-button]").click()
    expect(page).to_have_url(re.compile(r"/sandbox/"))
    expect(page.get_by_role("button", name="Confirm payment")).to_be_visible()
    page.get_by_role("button", name="Confirm payment").click()
    # The provider's return address for this second trade (the order number, then "-2"), loaded.
    expect(page).to_have_url(re.compile(rf"/orders\?.*out_trade_no={order_no}-2"))
    page.wait_for_load_state("domcontentloaded")
    card = page.locator(f'[data-order-no="{order_no}"]')
    # Whatever the notification's timing, no active Pay button right after paying: received or paid.
    expect(card.locator("[data-pay-button]")).to_have_count(0)
    expect(card.locator("[data-continue-payment]")).to_have_count(0)
    visit.snap("orders-back-from-paying")
    expect(card.locator(".status-badge")).to_have_text(words["paid"], timeout=30000)
    expect(card.locator("[data-payment-refused]")).to_have_count(0)
    visit.snap("orders-paid")


def test_a_fully_reserved_sale_in_chinese_on_a_phone(chinese_phone_visit: Visit) -> None:
    _fully_reserved(chinese_phone_visit, CHINESE)


def test_a_fully_reserved_sale_in_english_on_a_desktop(visit: Visit) -> None:
    _fully_reserved(visit, ENGLISH)


def test_a_declined_payment_then_paying_again_in_chinese_on_a_phone(chinese_phone_visit: Visit) -> None:
    _declined_then_paid(chinese_phone_visit, CHINESE)


def test_a_declined_payment_then_paying_again_in_english_on_a_desktop(visit: Visit) -> None:
    _declined_then_paid(visit, ENGLISH)
