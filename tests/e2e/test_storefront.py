"""The storefront in a real browser: register, buy, pay countdown, live sold-out, double clicks, expiry,
checkout (identity, consignee, tax) and paying.

Screenshots of every page visited are kept under ``artifacts/screenshots/``.
"""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from playwright.sync_api import expect

from flashport.adapters.db.schema import orders
from flashport.domain.accounts import Role
from flashport.services.accounts import identities
from flashport.services.context import Context
from flashport.services.orders import lifecycle as order_service
from flashport.services.sales import buying
from tests.e2e.conftest import LiveServer, Visit
from tests.factories import make_user
from tests.sale_builder import make_sale

# The sandbox payment page's prefilled payer; checking out as the same person lets the payment settle.
DEMO_PAYER = ("李娜", "110105199003070025")


def buyer_orders(server: LiveServer, buyer_id: int) -> list[Any]:
    async def read(ctx: Context) -> list[Any]:
        async with ctx.read() as conn:
            query = sa.select(orders).where(orders.c.buyer_id == buyer_id)
            return list((await conn.execute(query)).all())

    return server.run(read(server.ctx))


def test_a_buyer_registers_buys_and_sees_the_payment_countdown(visit: Visit) -> None:
    server, page = visit.server, visit.page
    sale = server.run(make_sale(server.ctx, quantity=20, limit=2))
    page.goto("/")
    visit.snap("home")
    page.locator(f'a[href="/events/{sale.event_id}"]').click()
    expect(page).to_have_url(re.compile(rf"/events/{sale.event_id}$"))
    expect(page.locator("h1")).to_be_visible()
    visit.snap("event")
    page.locator(f'a[href="/items/{sale.item_id}"]').click()
    visit.snap("item-visitor")
    page.get_by_role("link", name="Log in to buy").click()
    page.get_by_role("link", name="Register").last.click()
    email = f"li-{uuid.uuid4().hex[:8]}@example.com"
    page.get_by_label("Name").fill("Li Wei")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill("a-long-password")
    visit.snap("register")
    page.get_by_role("button", name="Create account").click()
    # Registration answers alike for new and known addresses, and sends the buyer on to log in.
    expect(page).to_have_url(re.compile(r"/login\?next="))
    expect(page.locator("[data-flash]")).to_contain_text("If this address is new")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill("a-long-password")
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(rf"/items/{sale.item_id}$"))
    expect(page.locator("[data-flash]")).to_contain_text("Welcome back, Li Wei")
    visit.snap("item-buyer")
    page.get_by_label("Quantity").fill("2")
    page.get_by_role("button", name="Buy now").click()
    expect(page).to_have_url(re.compile(r"/orders$"))
    expect(page.locator("[data-flash]")).to_contain_text("Reserved! Order")
    card = page.locator(".order-card").first
    expect(card).to_contain_text("Awaiting payment")
    expect(card).to_contain_text("¥198.00")
    expect(card.get_by_role("link", name=re.compile(r"^Check out"))).to_be_visible()
    expect(card).to_contain_text("Complete checkout to pay")
    expect(card.locator("[data-pay-button]")).to_have_count(0)
    timer = card.locator(".countdown")
    expect(timer).to_have_text(re.compile(r"^(19:5\d|20:00)$|^00:(19|20):\d\d$"))
    first = timer.inner_text()
    expect(timer).not_to_have_text(first, timeout=3000)  # it ticks
    visit.snap("orders")


def test_a_fully_reserved_item_says_so_without_a_reload(visit: Visit) -> None:
    server, page = visit.server, visit.page
    sale = server.run(make_sale(server.ctx, quantity=2, limit=2))
    visit.new_buyer()
    page.goto(f"/items/{sale.item_id}")
    visit.snap("item-in-stock")
    event_page = visit.context.new_page()
    event_page.goto(f"/events/{sale.event_id}")
    visit.snap("event-in-stock", event_page)
    buy_button = page.locator("[data-buy-button]")
    expect(buy_button).to_be_enabled()
    other, _ = server.run(make_user(server.ctx, Role.BUYER))
    server.run(buying.buy(server.ctx, other, sale.item_id, 2, "the-last-units"))
    # No reload: the pages poll the live counts every ~2 s from a half-second snapshot.
    expect(buy_button).to_be_disabled(timeout=6000)
    expect(buy_button).to_have_text("All reserved")  # unpaid orders may give units back
    expect(page.locator("[data-remaining]")).to_have_text("0")
    card = event_page.locator(f'[data-item-id="{sale.item_id}"]')
    expect(card).to_have_class(re.compile("is-sold-out"), timeout=6000)
    expect(card.locator(".sold-out-tag")).to_be_visible()
    visit.snap("item-sold-out")
    visit.snap("event-sold-out", event_page)


def test_a_double_click_on_buy_creates_exactly_one_order(visit: Visit) -> None:
    server, page = visit.server, visit.page
    sale = server.run(make_sale(server.ctx, quantity=10, limit=2))
    buyer = visit.new_buyer()
    page.goto(f"/items/{sale.item_id}")
    visit.snap("item")
    page.locator("[data-buy-button]").dblclick()
    expect(page).to_have_url(re.compile(r"/orders$"))
    visit.snap("orders-after-double-click")
    # A second submit while the first is in flight is ignored; the key would catch it anyway.
    page.goto(f"/items/{sale.item_id}")
    page.evaluate(
        "() => { const f = document.querySelector('[data-buy-form]'); f.requestSubmit(); f.requestSubmit(); }"
    )
    expect(page).to_have_url(re.compile(r"/orders$"))
    assert len(buyer_orders(server, buyer)) == 2  # one per page load (purchase intent), never more
    assert [row.quantity for row in buyer_orders(server, buyer)] == [1, 1]


def test_a_retry_after_a_lost_answer_reuses_the_key_and_buys_once(visit: Visit) -> None:
    server, page = visit.server, visit.page
    sale = server.run(make_sale(server.ctx, quantity=10, limit=2))
    buyer = visit.new_buyer()
    page.goto(f"/items/{sale.item_id}")
    lost = {"count": 0}

    def lose_first_answer(route: Any) -> None:
        if lost["count"] == 0:
            lost["count"] += 1
            route.fetch()  # the purchase reaches the server...
            route.abort()  # ...but its answer never reaches the page
        else:
            route.continue_()

    page.route(f"**/items/{sale.item_id}/buy", lose_first_answer)
    page.get_by_role("button", name="Buy now").click()
    retry = page.get_by_role("button", name="Try again")
    expect(retry).to_be_enabled()
    expect(page.locator("[data-buy-status]")).to_contain_text("you will not buy twice")
    visit.snap("item-retry")
    retry.click()
    expect(page).to_have_url(re.compile(r"/orders$"))
    visit.snap("orders")
    assert len(buyer_orders(server, buyer)) == 1


def test_a_slow_answer_shows_progress_and_blocks_a_second_click(visit: Visit) -> None:
    server, page = visit.server, visit.page
    sale = server.run(make_sale(server.ctx, quantity=10, limit=2))
    visit.new_buyer()
    page.goto(f"/items/{sale.item_id}")
    held: list[Any] = []
    page.route(f"**/items/{sale.item_id}/buy", lambda route: held.append(route))
    button = page.locator("[data-buy-button]")
    button.click()
    expect(button).to_be_disabled()
    expect(button).to_have_text("Reserving…")
    expect(button).to_have_attribute("aria-busy", "true")
    visit.snap("item-reserving")
    page.wait_for_timeout(100)
    assert len(held) == 1
    held[0].continue_()
    expect(page).to_have_url(re.compile(r"/orders$"))
    visit.snap("orders")


def test_an_expired_order_shows_expired(visit: Visit) -> None:
    server, page = visit.server, visit.page
    sale = server.run(make_sale(server.ctx, quantity=5, limit=1))
    buyer = visit.new_buyer()
    order = server.run(buying.buy(server.ctx, buyer, sale.item_id, 1, "will-expire")).order
    page.goto("/orders")
    expect(page.locator(f'[data-order-no="{order["order_no"]}"]')).to_contain_text("Awaiting payment")
    visit.snap("orders-pending")

    async def expire(ctx: Context) -> int:
        async with ctx.transaction() as tx:
            past = tx.now - timedelta(seconds=1)
            moved = (
                orders.update().where(orders.c.order_no == order["order_no"]).values(payment_deadline=past)
            )
            await tx.conn.execute(moved)
        return await order_service.expire_unpaid_orders(ctx)

    assert server.run(expire(server.ctx)) >= 1
    page.reload()
    card = page.locator(f'[data-order-no="{order["order_no"]}"]')
    expect(card).to_contain_text("Expired")
    expect(card).to_contain_text("payment window closed")
    expect(card.locator("[data-pay-button]")).to_have_count(0)
    visit.snap("orders-expired")


def test_countdowns_follow_the_server_clock_not_the_browsers(visit: Visit) -> None:
    server, page = visit.server, visit.page
    sale = server.run(make_sale(server.ctx, starts_in=timedelta(hours=2)))
    # The buyer's computer is five hours behind: a naive countdown would say 07:00:00.
    page.clock.install(time=server.ctx.clock() - timedelta(hours=5))
    page.goto(f"/items/{sale.item_id}")
    page.clock.run_for(1500)
    timer = page.locator(".buy-area .countdown")
    expect(timer).to_have_text(re.compile(r"^(01:59:\d\d|02:00:00)$"))
    expect(page.locator(".buy-area button")).to_be_disabled()
    visit.snap("item-upcoming")


def test_pages_fit_a_phone_and_work_from_the_keyboard(phone_visit: Visit) -> None:
    server, page = phone_visit.server, phone_visit.page
    sale = server.run(make_sale(server.ctx))
    phone_visit.new_buyer()
    for path, label in (
        ("/", "home"),
        (f"/events/{sale.event_id}", "event"),
        (f"/items/{sale.item_id}", "item"),
    ):
        page.goto(path)
        overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{path} scrolls sideways by {overflow}px"
        assert page.locator("img:not([alt])").count() == 0
        phone_visit.snap(label)
    page.get_by_label("Quantity").focus()
    page.keyboard.press("Tab")
    focused = page.evaluate("() => document.activeElement.hasAttribute('data-buy-button')")
    assert focused, "Tab from the quantity goes to the buy button"
    shadow = page.evaluate("() => getComputedStyle(document.activeElement).boxShadow")
    assert shadow != "none", "the focused button shows a focus ring"
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/orders$"))
    phone_visit.snap("orders")


def test_a_buyer_checks_out_pays_and_sees_the_order_paid(visit: Visit) -> None:
    server, page = visit.server, visit.page
    sale = server.run(make_sale(server.ctx, quantity=5, limit=1))
    visit.new_buyer()
    page.goto(f"/items/{sale.item_id}")
    page.get_by_role("button", name="Buy now").click()
    expect(page).to_have_url(re.compile(r"/orders$"))
    card = page.locator(".order-card").first
    expect(card).to_contain_text("Complete checkout to pay")
    expect(card.locator("[data-pay-button]")).to_have_count(0)
    card.get_by_role("link", name=re.compile(r"^Check out")).click()
    expect(page).to_have_url(re.compile(r"/orders/\w+#checkout$"))
    expect(page.locator("[data-pay-locked]")).to_have_text("Complete checkout to pay")

    # A new buyer has no identity yet: the form asks for one, with a mistyped check digit first.
    name, number = DEMO_PAYER
    page.get_by_label("Full name, as on the ID card").fill(name)
    page.get_by_label("Resident ID number", exact=True).fill(number[:-1] + "6")
    page.get_by_label("Recipient's name").fill(name)
    page.get_by_label("Mobile number").fill("13800138000")
    # The place from the linked lists (each filled once the one above is chosen), then the street.
    page.get_by_label("Province").select_option("11")
    page.get_by_label("City").select_option("1101")
    page.get_by_label("District").select_option("110105")
    page.get_by_label("Street and number").fill("建国路 88 号 2 单元 1101 室")
    visit.snap("checkout-form")
    page.get_by_role("button", name="Confirm checkout").click()
    number_field = page.get_by_label("Resident ID number", exact=True)
    expect(page.locator("#identity_number-error")).to_contain_text("check digit does not match")
    expect(number_field).to_have_attribute("aria-invalid", "true")
    expect(number_field).to_have_value("")  # a typed number is never sent back
    expect(page.locator("[data-form-problem]")).to_be_focused()
    expect(page.get_by_label("Street and number")).to_have_value(re.compile("建国路 88 号"))
    expect(page.get_by_label("District")).to_have_value("110105")
    visit.snap("checkout-error")

    number_field.fill(number)
    page.get_by_role("button", name="Confirm checkout").click()
    expect(page).to_have_url(re.compile(r"#payment$"))
    expect(page.locator("[data-flash]")).to_contain_text("Checkout complete")
    total = page.locator("[data-total]").inner_text()
    assert re.fullmatch(r"¥\d{1,3}(,\d{3})*\.\d\d", total), total
    line = page.locator("[data-tax-line]").first
    expect(line.locator('[data-label="VAT"]')).to_have_text(re.compile(r"^¥\d+\.\d\d$"))
    expect(line.locator('[data-label="Consumption tax"]')).to_have_text("¥0.00")
    expect(page.locator("#breakdown")).to_contain_text("1101**********0025")
    assert number not in page.content()
    expect(page.locator(".steps [aria-current=step]")).to_contain_text("Pay")
    visit.snap("checkout-breakdown")

    page.get_by_role("button", name=f"Pay {total}").click()
    expect(page).to_have_url(re.compile(r"/sandbox/"))
    expect(page.locator(".amount")).to_have_text(total.replace(",", ""))
    # The sandbox prefills its demo payer: the same person as the checkout identity, as rule 8 wants.
    expect(page.locator("[name=payer_name]")).to_have_value(name)
    expect(page.locator("[name=payer_id_number]")).to_have_value(number)
    visit.snap("payment-page")
    page.get_by_role("button", name="Confirm payment").click()
    expect(page).to_have_url(re.compile(r"/orders"))
    expect(page.locator(".order-card").first).to_contain_text("Paid", timeout=10000)
    visit.snap("orders-paid")


def test_checkout_fits_a_phone(phone_visit: Visit) -> None:
    server, page = phone_visit.server, phone_visit.page
    sale = server.run(make_sale(server.ctx))
    buyer = phone_visit.new_buyer()
    server.run(identities.add_identity(server.ctx, buyer, *DEMO_PAYER))
    order = server.run(buying.buy(server.ctx, buyer, sale.item_id, 1, "on-a-phone")).order
    page.goto(f"/orders/{order['order_no']}")
    expect(page.get_by_role("radio", name=re.compile("^Add someone new"))).not_to_be_checked()
    expect(page.get_by_label("Resident ID number", exact=True)).to_be_hidden()  # shown only for someone new
    page.get_by_role("radio", name=re.compile("^Add someone new")).check()
    expect(page.get_by_label("Resident ID number", exact=True)).to_be_visible()
    page.get_by_role("radio", name=re.compile("李娜")).check()
    page.get_by_label("Recipient's name").fill("李娜")
    page.get_by_label("Mobile number").fill("138 0013 8000")
    page.get_by_label("Province").select_option(label="上海市")
    page.get_by_label("City").select_option("3101")
    page.get_by_label("District").select_option(label="浦东新区")
    page.get_by_label("Street and number").fill("世纪大道 100 号")
    _assert_fits(page)
    phone_visit.snap("checkout-form")
    page.get_by_role("button", name="Confirm checkout").click()
    expect(page.locator("[data-total]")).to_be_visible()
    expect(page.locator("[data-tax-line] [data-label=VAT]")).to_be_visible()  # one card per item
    _assert_fits(page)
    phone_visit.snap("checkout-breakdown")
    page.goto("/account/identities")
    expect(page.locator(".identity-row")).to_contain_text("1101**********0025")
    _assert_fits(page)
    phone_visit.snap("identities")


def _assert_fits(page: Any) -> None:
    overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"{page.url} scrolls sideways by {overflow}px"
