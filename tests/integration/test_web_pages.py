"""The storefront over HTTP without a browser: pages, session cookie, CSRF, buying, orders, checkout,
identities, live counts."""

from __future__ import annotations

import asyncio
import base64
import json
import re
import sys
import types
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI

from flashport.adapters.db.schema import orders, products, sale_items, skus
from flashport.app import create_app
from flashport.domain.accounts import Role
from flashport.services.accounts import identities
from flashport.services.context import Context
from flashport.services.orders import checkout
from flashport.services.orders import lifecycle as order_service
from flashport.services.orders.views import DeclaredBuyerView
from flashport.services.sales import buying
from flashport.web import formatting
from flashport.web import session as web_session
from flashport.web.state import LIVE_TTL, PAGE_TTL, Storefront
from tests.clocks import ManualTimer
from tests.factories import make_user
from tests.sale_builder import make_sale

CSRF = "test-csrf-token"
FORM = {"x-csrf-token": CSRF}
JSON = {"accept": "application/json", "x-csrf-token": CSRF}


@pytest.fixture
def web_app(ctx: Context) -> FastAPI:
    return create_app(ctx=ctx)


@pytest.fixture
async def web(web_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=web_app)
    # These tests read the English pages (the second language); test_web_i18n.py reads the Chinese ones.
    english = {"accept-language": "en-GB,en;q=0.9"}
    async with httpx.AsyncClient(transport=transport, base_url="http://shop.test", headers=english) as http:
        yield http


@pytest.fixture
def page_clock(web_app: FastAPI) -> ManualTimer:
    """The clock of the storefront's page caches, standing still until the test moves it."""
    timer = ManualTimer()
    web_app.state.storefront = Storefront(web_app.state.storefront.templates, clock=timer)
    return timer


def log_in_as(client: httpx.AsyncClient, ctx: Context, user_id: int, role: Role = Role.BUYER) -> None:
    """Give the client the signed session a log-in would have given it."""
    data = {"uid": user_id, "role": role.value, "name": "Test Buyer", "csrf": CSRF}
    cookie = web_session.encode(data, ctx.settings.keys.secret, 3600)
    client.cookies.set(web_session.COOKIE, cookie, domain="shop.test")


async def buyer_client(client: httpx.AsyncClient, ctx: Context) -> int:
    user_id, _ = await make_user(ctx, Role.BUYER)
    log_in_as(client, ctx, user_id)
    return user_id


async def order_rows(ctx: Context, buyer_id: int) -> list[Any]:
    async with ctx.read() as conn:
        return list((await conn.execute(sa.select(orders).where(orders.c.buyer_id == buyer_id))).all())


# --- pages -------------------------------------------------------------------------------------------


async def test_home_lists_live_and_upcoming_sales_with_countdowns_brands_and_discount(
    ctx: Context, web: httpx.AsyncClient
) -> None:
    live = await make_sale(ctx, price_fen=9900, original_fen=29800)
    soon = await make_sale(ctx, starts_in=timedelta(days=2))
    page = await web.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    html = page.text
    assert f'href="/events/{live.event_id}"' in html and f'href="/events/{soon.event_id}"' in html
    assert html.index("Live now") < html.index(f"/events/{live.event_id}") < html.index("Coming soon")
    assert html.index("Coming soon") < html.index(f"/events/{soon.event_id}")
    assert "Up to 66% off" in html and "From New Zealand" in html
    assert html.count("data-countdown-to=") == 2
    assert re.search(r'<body data-server-time="\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"', html)


async def test_event_page_shows_prices_discount_stock_limit_and_sold_out(
    ctx: Context, web: httpx.AsyncClient, page_clock: ManualTimer
) -> None:
    sale = await make_sale(ctx, quantity=1, limit=1, price_fen=129900, original_fen=299900)
    html = (await web.get(f"/events/{sale.event_id}")).text
    assert "¥1,299.00" in html and "<del" in html and "¥2,999.00" in html
    assert "\N{MINUS SIGN}56%" in html and "Limit 1 per buyer" in html
    assert '<progress class="stock-bar" max="1" value="1"' in html
    assert 'data-sale-state="live"' in html and f'data-live-url="/live/events/{sale.event_id}"' in html
    buyer, _ = await make_user(ctx, Role.BUYER)
    await buying.buy(ctx, buyer, sale.item_id, 1, "last-unit")
    page_clock.advance(PAGE_TTL)  # the cached page has lived its time
    html = (await web.get(f"/events/{sale.event_id}")).text
    assert 'is-sold-out" data-item-id' in html and 'data-sale-state="sold_out"' in html


async def test_item_page_shows_origin_fulfilment_and_a_login_link_to_visitors(
    ctx: Context, web: httpx.AsyncClient
) -> None:
    sale = await make_sale(ctx)
    page = await web.get(f"/items/{sale.item_id}")
    assert page.status_code == 200
    html = page.text
    assert "New Zealand" in html and "bonded warehouse in China" in html
    assert f'href="/login?next=/items/{sale.item_id}"' in html and "Log in to buy" in html
    assert re.search(r'<img src="/static/demo/[^"]+" alt="[^"]{8,}"', html)  # brand and product as alt text
    assert web_session.COOKIE not in page.headers.get("set-cookie", "")  # visitors get no cookie


async def test_item_page_gives_a_buyer_a_form_with_a_fresh_key_and_the_csrf_token(
    ctx: Context, web: httpx.AsyncClient
) -> None:
    sale = await make_sale(ctx)
    await buyer_client(web, ctx)
    first = (await web.get(f"/items/{sale.item_id}")).text
    second = (await web.get(f"/items/{sale.item_id}")).text
    assert f'action="/items/{sale.item_id}/buy"' in first and f'value="{CSRF}"' in first
    keys = [re.search(r'name="idempotency_key" value="([^"]+)"', html) for html in (first, second)]
    assert keys[0] and keys[1] and keys[0].group(1) != keys[1].group(1)


async def test_an_upcoming_item_cannot_be_bought_yet(ctx: Context, web: httpx.AsyncClient) -> None:
    sale = await make_sale(ctx, starts_in=timedelta(hours=3))
    await buyer_client(web, ctx)
    html = (await web.get(f"/items/{sale.item_id}")).text
    assert "Starts in" in html and "data-buy-form" not in html
    refused = await web.post(
        f"/items/{sale.item_id}/buy", data={"quantity": "1", "idempotency_key": "k"}, headers=JSON
    )
    assert refused.status_code == 409 and refused.json()["code"] == "sale_not_started"


async def test_unknown_pages_answer_404_as_a_page(ctx: Context, web: httpx.AsyncClient) -> None:
    for path in ("/events/424242", "/items/424242", "/events/99999999999999999999"):
        page = await web.get(path)
        assert page.status_code in (404, 422), path
    page = await web.get("/events/424242")
    assert page.headers["content-type"].startswith("text/html") and "Not found" in page.text


async def test_pages_carry_security_headers_and_assets_are_cached_by_version(
    ctx: Context, web: httpx.AsyncClient
) -> None:
    page = await web.get("/")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-content-type-options"] == "nosniff"
    css = re.search(r'href="(/static/css/storefront\.css\?v=\w+)"', page.text)
    assert css is not None
    asset = await web.get(css.group(1))
    assert asset.status_code == 200 and "immutable" in asset.headers["cache-control"]


async def test_every_demo_brand_has_an_image_and_unknown_ones_fall_back(web: httpx.AsyncClient) -> None:
    from flashport.demo import PRODUCTS, _slug

    for brand in {product[0] for product in PRODUCTS}:
        image = await web.get(f"/static/demo/{_slug(brand)}.svg")
        assert image.status_code == 200 and image.headers["content-type"].startswith("image/svg+xml")
        assert brand.replace("'", "&apos;") in image.text or brand in image.text
    fallback = await web.get("/static/demo/no-such-brand.svg")
    assert fallback.status_code == 200 and "coming soon" in fallback.text
    assert (await web.get("/static/css/missing.css")).status_code == 404


# --- accounts and the session cookie -----------------------------------------------------------------


async def _csrf_from(client: httpx.AsyncClient, path: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', (await client.get(path)).text)
    assert found is not None
    return found.group(1)


async def test_register_then_log_in_gives_an_httponly_lax_cookie(
    ctx: Context, web: httpx.AsyncClient
) -> None:
    token = await _csrf_from(web, "/register")
    email = f"new-{uuid.uuid4().hex[:8]}@example.com"
    form = {
        "csrf_token": token,
        "name": "Mei",
        "email": email,
        "password": "long-enough-pw",
        "next": "/orders",
    }
    registered = await web.post("/register", data=form)
    # The same answer whether the address had an account or not: on to log-in.
    assert registered.status_code == 303 and registered.headers["location"] == "/login?next=/orders"
    login = {"csrf_token": token, "email": email, "password": "long-enough-pw", "next": "/orders"}
    answer = await web.post("/login", data=login)
    assert answer.status_code == 303 and answer.headers["location"] == "/orders"
    cookie = answer.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "secure" not in cookie
    orders_page = await web.get("/orders")
    assert orders_page.status_code == 200 and "Welcome back, Mei" in orders_page.text
    assert "You have no orders yet" in orders_page.text


async def test_the_cookie_is_secure_over_https(ctx: Context) -> None:
    transport = httpx.ASGITransport(app=create_app(ctx=ctx))
    async with httpx.AsyncClient(transport=transport, base_url="https://shop.test") as client:
        answer = await client.get("/login")
    assert "secure" in answer.headers["set-cookie"].lower()


async def test_log_in_refuses_a_wrong_password_and_keeps_the_email(
    ctx: Context, web: httpx.AsyncClient
) -> None:
    token = await _csrf_from(web, "/login")
    answer = await web.post(
        "/login", data={"csrf_token": token, "email": "nobody@example.com", "password": "x"}
    )
    assert answer.status_code == 401
    assert (
        "The email or the password is wrong." in answer.text and 'value="nobody@example.com"' in answer.text
    )


async def test_log_in_never_redirects_to_another_site(ctx: Context, web: httpx.AsyncClient) -> None:
    from flashport.services.accounts import users as accounts

    await accounts.register(ctx, email="mei@example.com", password="long-enough-pw", name="Mei")
    token = await _csrf_from(web, "/login")
    form = {
        "csrf_token": token,
        "email": "mei@example.com",
        "password": "long-enough-pw",
        "next": "//evil.test/x",
    }
    answer = await web.post("/login", data=form)
    assert answer.status_code == 303 and answer.headers["location"] == "/"


async def test_a_tampered_session_cookie_is_ignored(ctx: Context, web: httpx.AsyncClient) -> None:
    await buyer_client(web, ctx)
    body, signature = web.cookies[web_session.COOKIE].split(".")
    data = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    data["uid"] += 1
    forged_body = base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()
    web.cookies.set(web_session.COOKIE, f"{forged_body}.{signature}", domain="shop.test")
    assert (await web.get("/orders")).headers["location"] == "/login?next=/orders"
    payload = web_session.encode({"uid": 1}, "another-secret", 60)
    assert web_session.decode(payload, ctx.settings.keys.secret) == {}
    assert (
        web_session.decode(
            web_session.encode({"uid": 1}, ctx.settings.keys.secret, -1), ctx.settings.keys.secret
        )
        == {}
    )


async def test_logout_needs_the_csrf_token_and_then_forgets_the_buyer(
    ctx: Context, web: httpx.AsyncClient
) -> None:
    await buyer_client(web, ctx)
    assert (await web.post("/logout")).status_code == 403
    answer = await web.post("/logout", data={"csrf_token": CSRF})
    assert answer.status_code == 303 and 'fp_session=""' in answer.headers["set-cookie"]
    web.cookies.clear()
    assert (await web.get("/orders")).headers["location"] == "/login?next=/orders"


# --- CSRF and roles ----------------------------------------------------------------------------------


async def test_a_post_without_the_csrf_token_is_refused_and_buys_nothing(
    ctx: Context, web: httpx.AsyncClient
) -> None:
    sale = await make_sale(ctx)
    buyer = await buyer_client(web, ctx)
    form = {"quantity": "1", "idempotency_key": "k1"}
    assert (await web.post(f"/items/{sale.item_id}/buy", data=form)).status_code == 403
    wrong = await web.post(f"/items/{sale.item_id}/buy", data=form, headers={"x-csrf-token": "guess"})
    assert wrong.status_code == 403
    assert (
        await web.post(f"/items/{sale.item_id}/buy", data={**form, "csrf_token": "guess"})
    ).status_code == 403
    assert await order_rows(ctx, buyer) == []


async def test_operators_may_browse_but_not_buy(ctx: Context, web: httpx.AsyncClient) -> None:
    sale = await make_sale(ctx)
    operator, _ = await make_user(ctx, Role.OPERATOR)
    log_in_as(web, ctx, operator, Role.OPERATOR)
    html = (await web.get(f"/items/{sale.item_id}")).text
    assert "only buyer accounts can buy" in html and "data-buy-form" not in html
    refused = await web.post(
        f"/items/{sale.item_id}/buy", data={"quantity": "1", "idempotency_key": "k"}, headers=JSON
    )
    assert refused.status_code == 403 and refused.json()["code"] == "buyers_only"


async def test_a_visitor_posting_the_buy_form_is_sent_to_log_in(ctx: Context, web: httpx.AsyncClient) -> None:
    sale = await make_sale(ctx)
    await _csrf_from(web, "/login")  # an anonymous session with a token
    token = web_session.decode(web.cookies[web_session.COOKIE], ctx.settings.keys.secret)["csrf"]
    headers = {"referer": f"http://shop.test/items/{sale.item_id}"}
    form = {"quantity": "1", "idempotency_key": "k", "csrf_token": token}
    answer = await web.post(f"/items/{sale.item_id}/buy", data=form, headers=headers)
    assert answer.status_code == 303 and answer.headers["location"] == f"/login?next=/items/{sale.item_id}"


# --- buying ------------------------------------------------------------------------------------------


async def test_buying_without_scripts_redirects_to_orders_and_a_resubmit_buys_nothing_more(
    ctx: Context, web: httpx.AsyncClient
) -> None:
    sale = await make_sale(ctx, limit=2)
    buyer = await buyer_client(web, ctx)
    form = {"quantity": "1", "idempotency_key": str(uuid.uuid4()), "csrf_token": CSRF}
    first = await web.post(f"/items/{sale.item_id}/buy", data=form)
    again = await web.post(f"/items/{sale.item_id}/buy", data=form)
    assert first.status_code == again.status_code == 303 and first.headers["location"] == "/orders"
    assert len(await order_rows(ctx, buyer)) == 1
    page = (await web.get("/orders")).text
    assert "Reserved! Order" in page and "Awaiting payment" in page and "Complete checkout to pay" in page
    assert 'data-on-zero="payment-closed"' in page


async def test_buying_from_a_script_answers_json_and_a_retry_gets_the_same_order(
    ctx: Context, web: httpx.AsyncClient
) -> None:
    sale = await make_sale(ctx, quantity=5, limit=2)
    buyer = await buyer_client(web, ctx)
    form = {"quantity": "2", "idempotency_key": str(uuid.uuid4())}
    first = await web.post(f"/items/{sale.item_id}/buy", data=form, headers=JSON)
    retry = await web.post(f"/items/{sale.item_id}/buy", data=form, headers=JSON)
    assert (first.status_code, retry.status_code) == (201, 200)
    assert first.json()["order_no"] == retry.json()["order_no"] and first.json()["redirect"] == "/orders"
    rows = await order_rows(ctx, buyer)
    assert len(rows) == 1 and rows[0].quantity == 2


async def test_many_simultaneous_clicks_with_one_key_make_one_order(
    ctx: Context, web: httpx.AsyncClient
) -> None:
    sale = await make_sale(ctx, quantity=50, limit=2)
    buyer = await buyer_client(web, ctx)
    form = {"quantity": "1", "idempotency_key": str(uuid.uuid4())}
    answers = await asyncio.gather(
        *(web.post(f"/items/{sale.item_id}/buy", data=form, headers=JSON) for _ in range(8))
    )
    assert {a.status_code for a in answers} <= {200, 201}
    assert len({a.json()["order_no"] for a in answers}) == 1
    assert len(await order_rows(ctx, buyer)) == 1


async def test_a_sold_out_answer_comes_at_once_with_its_reason(ctx: Context, web: httpx.AsyncClient) -> None:
    sale = await make_sale(ctx, quantity=1, limit=1)
    other, _ = await make_user(ctx, Role.BUYER)
    await buying.buy(ctx, other, sale.item_id, 1, "first")
    await buyer_client(web, ctx)
    form = {"quantity": "1", "idempotency_key": "late"}
    answer = await web.post(f"/items/{sale.item_id}/buy", data=form, headers=JSON)
    assert answer.status_code == 409 and answer.json()["code"] == "sold_out"
    plain = await web.post(f"/items/{sale.item_id}/buy", data={**form, "csrf_token": CSRF})
    assert plain.status_code == 303 and plain.headers["location"] == f"/items/{sale.item_id}"
    assert "Every unit is reserved now" in (await web.get(f"/items/{sale.item_id}")).text


async def test_a_bad_quantity_is_refused_as_invalid(ctx: Context, web: httpx.AsyncClient) -> None:
    sale = await make_sale(ctx)
    await buyer_client(web, ctx)
    answer = await web.post(
        f"/items/{sale.item_id}/buy", data={"quantity": "two", "idempotency_key": "k"}, headers=JSON
    )
    assert answer.status_code == 422 and answer.json()["code"] == "invalid_quantity"


# --- orders ------------------------------------------------------------------------------------------


async def test_no_buyer_sees_another_buyers_order(ctx: Context, web: httpx.AsyncClient) -> None:
    sale = await make_sale(ctx)
    owner, _ = await make_user(ctx, Role.BUYER)
    theirs = (await buying.buy(ctx, owner, sale.item_id, 1, "theirs")).order
    await buyer_client(web, ctx)
    assert (await web.get(f"/orders/{theirs['order_no']}")).status_code == 404
    assert theirs["order_no"] not in (await web.get("/orders")).text
    assert (
        await web.post(f"/orders/{theirs['order_no']}/cancel", data={"csrf_token": CSRF})
    ).status_code == 303
    assert (await order_service.get_for_buyer(ctx, owner, theirs["order_no"])).status == "pending_payment"
    statuses = (await web.get("/live/orders", headers={"accept": "application/json"})).json()
    assert statuses["orders"] == []


async def test_an_order_page_shows_its_amounts(ctx: Context, web: httpx.AsyncClient) -> None:
    sale = await make_sale(ctx)
    buyer = await buyer_client(web, ctx)
    mine = (await buying.buy(ctx, buyer, sale.item_id, 2, "mine")).order
    page = await web.get(f"/orders/{mine['order_no']}")
    assert page.status_code == 200 and "¥198.00" in page.text and "Awaiting payment" in page.text


async def test_an_expired_order_says_so_and_offers_no_payment(ctx: Context, web: httpx.AsyncClient) -> None:
    sale = await make_sale(ctx)
    buyer = await buyer_client(web, ctx)
    order = (await buying.buy(ctx, buyer, sale.item_id, 1, "late-payer")).order
    base = ctx.clock
    ctx.clock = lambda: base() + timedelta(minutes=21)
    assert await order_service.expire_unpaid_orders(ctx) == 1
    html = (await web.get("/orders")).text
    assert order["order_no"] in html and "Expired" in html and "payment window closed" in html
    assert "data-pay-button" not in html


async def test_cancelling_an_order_returns_it_to_sale(ctx: Context, web: httpx.AsyncClient) -> None:
    sale = await make_sale(ctx, quantity=1, limit=1)
    buyer = await buyer_client(web, ctx)
    order = (await buying.buy(ctx, buyer, sale.item_id, 1, "change-of-mind")).order
    answer = await web.post(f"/orders/{order['order_no']}/cancel", data={"csrf_token": CSRF})
    assert answer.status_code == 303
    assert "Cancelled" in (await web.get("/orders")).text
    assert (await ctx.stock.remaining([sale.item_id]))[sale.item_id] == 1  # type: ignore[union-attr]


async def test_the_pay_button_redirects_to_the_payment_page(
    ctx: Context, web: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[int, str]] = []

    async def start_payment(_ctx: Context, buyer_id: int, order_no: str) -> types.SimpleNamespace:
        calls.append((buyer_id, order_no))
        return types.SimpleNamespace(redirect_url=f"https://pay.example/checkout/{order_no}")

    fake = types.ModuleType("flashport.services.payments.settlement")
    fake.start_payment = start_payment  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "flashport.services.payments.settlement", fake)
    sale = await make_sale(ctx)
    buyer = await buyer_client(web, ctx)
    order = (await buying.buy(ctx, buyer, sale.item_id, 1, "pay-me")).order
    assert (await web.post(f"/orders/{order['order_no']}/pay")).status_code == 403
    answer = await web.post(f"/orders/{order['order_no']}/pay", data={"csrf_token": CSRF})
    assert answer.status_code == 303
    assert answer.headers["location"] == f"https://pay.example/checkout/{order['order_no']}"
    assert calls == [(buyer, order["order_no"])]


async def test_a_paid_order_shows_paid(ctx: Context, web: httpx.AsyncClient) -> None:
    sale = await make_sale(ctx)
    buyer = await buyer_client(web, ctx)
    order = (await buying.buy(ctx, buyer, sale.item_id, 1, "paid")).order
    async with ctx.transaction() as tx:
        paid = orders.update().where(orders.c.order_no == order["order_no"])
        await tx.conn.execute(paid.values(status="paid", paid_at=tx.now))
    html = (await web.get("/orders")).text
    assert "status-badge-paid" in html and "data-pay-button" not in html
    statuses = (await web.get("/live/orders", headers={"accept": "application/json"})).json()["orders"]
    assert statuses == [{"order_no": order["order_no"], "status": "paid", "payment_pending": False}]


# --- live counts ---------------------------------------------------------------------------------------


async def test_live_counts_follow_purchases_and_cost_one_stock_read_per_half_second(
    ctx: Context, web: httpx.AsyncClient, page_clock: ManualTimer, monkeypatch: pytest.MonkeyPatch
) -> None:
    sale = await make_sale(ctx, quantity=3, limit=3)
    assert ctx.stock is not None
    reads = 0
    real_remaining = ctx.stock.remaining

    async def counted(item_ids: Any) -> dict[int, int]:
        nonlocal reads
        reads += 1
        return await real_remaining(item_ids)

    monkeypatch.setattr(ctx.stock, "remaining", counted)
    polls = await asyncio.gather(*(web.get(f"/live/events/{sale.event_id}") for _ in range(200)))
    # One read for the page data, and one for the live counts of this cache period (the clock stands
    # still), however many pages poll.
    assert reads <= 2
    body = polls[0].json()
    assert body["items"] == [{"id": sale.item_id, "remaining": 3, "sold_out": False}]
    assert body["status"] == "live" and body["server_time"].endswith("Z")
    assert polls[0].headers["cache-control"] == "private, no-cache"
    buyer, _ = await make_user(ctx, Role.BUYER)
    await buying.buy(ctx, buyer, sale.item_id, 3, "all-of-it")
    page_clock.advance(LIVE_TTL)
    after = (await web.get(f"/live/events/{sale.event_id}")).json()
    assert after["items"] == [{"id": sale.item_id, "remaining": 0, "sold_out": True}]
    assert after["status"] == "ended"  # every item gone


# --- checkout and identities -------------------------------------------------------------------------

LI_NA = ("李娜", "110105199003070025")
MINUS = "\N{MINUS SIGN}"
ADDRESS = "文三路 90 号"  # the street: province, city and district come from the lists (330106)


def checkout_form(identity: int | str, **changes: str) -> dict[str, str]:
    form = {
        "csrf_token": CSRF,
        "identity_id": str(identity),
        "consignee_name": "李娜",
        "consignee_phone": "138 0013 8000",
        "consignee_address": ADDRESS,
        "consignee_district": "330106",
    }
    return {**form, **changes}


def new_identity(person: tuple[str, str] = LI_NA, **changes: str) -> dict[str, str]:
    return checkout_form("new", identity_name=person[0], identity_number=person[1], **changes)


async def taxed_as(ctx: Context, item_id: int, category: str) -> None:
    async with ctx.transaction() as tx:
        product_id = (
            sa.select(skus.c.product_id)
            .join(sale_items, sale_items.c.sku_id == skus.c.id)
            .where(sale_items.c.id == item_id)
            .scalar_subquery()
        )
        await tx.conn.execute(
            products.update().where(products.c.id == product_id).values(tax_category=category)
        )
        if category == "consumption_tax":  # a 30 ml cosmetic: above ¥10 a ml, the tax is due
            sku_id = sa.select(sale_items.c.sku_id).where(sale_items.c.id == item_id).scalar_subquery()
            await tx.conn.execute(
                skus.update().where(skus.c.id == sku_id).values(net_content=30, net_content_unit="ml")
            )


async def checked_out_at(ctx: Context, order_no: str) -> Any:
    async with ctx.read() as conn:
        return await conn.scalar(sa.select(orders.c.checked_out_at).where(orders.c.order_no == order_no))


async def test_a_pending_order_offers_checkout_and_no_pay_button_before_it(
    ctx: Context, web: httpx.AsyncClient
) -> None:
    sale = await make_sale(ctx)
    buyer = await buyer_client(web, ctx)
    await identities.add_identity(ctx, buyer, *LI_NA)
    order = (await buying.buy(ctx, buyer, sale.item_id, 1, "check-me-out")).order
    listed = (await web.get("/orders")).text
    assert f'href="/orders/{order["order_no"]}#checkout"' in listed and "Check out" in listed
    assert "Complete checkout to pay" in listed and "data-pay-button" not in listed
    page = await web.get(f"/orders/{order['order_no']}")
    html = page.text
    assert page.status_code == 200
    assert f'action="/orders/{order["order_no"]}/checkout"' in html and f'value="{CSRF}"' in html
    assert re.search(r'type="radio" name="identity_id" value="\d+" checked', html)
    assert "李娜" in html and "1101**********0025" in html and LI_NA[1] not in html
    assert 'value="new"' in html and "Add someone new" in html
    for name in ("consignee_name", "consignee_phone", "consignee_address", "consignee_district"):
        assert f'<label for="{name}">' in html and f'id="{name}" name="{name}"' in html
    assert 'aria-describedby="consignee_phone-hint"' in html
    assert "Complete checkout to pay" in html and "data-pay-button" not in html


async def test_a_bad_id_number_is_shown_beside_its_field_and_never_sent_back(
    ctx: Context, web: httpx.AsyncClient
) -> None:
    sale = await make_sale(ctx)
    buyer = await buyer_client(web, ctx)
    order = (await buying.buy(ctx, buyer, sale.item_id, 1, "typo")).order
    mistyped = "110105199003070026"  # the check digit does not match
    answer = await web.post(
        f"/orders/{order['order_no']}/checkout",
        data=new_identity((LI_NA[0], mistyped), consignee_phone="12345"),
    )
    assert answer.status_code == 422
    html = answer.text
    assert 'aria-describedby="identity_number-hint identity_number-error" aria-invalid="true"' in html
    assert re.search(r'id="identity_number-error">.*check digit does not match', html)
    assert re.search(r'id="consignee_phone-error">.*mainland China mobile number', html)  # both at once
    assert 'href="#identity_number"' in html and 'role="alert"' in html  # the summary links to it
    assert mistyped not in html and 'name="identity_number" value=""' in html
    assert 'name="identity_name" value="李娜"' in html and f">{ADDRESS}</textarea>" in html  # kept
    assert (
        await identities.list_identities(ctx, buyer) == []
        and await checked_out_at(ctx, order["order_no"]) is None
    )
    as_script = await web.post(
        f"/orders/{order['order_no']}/checkout", data=new_identity((LI_NA[0], mistyped)), headers=JSON
    )
    assert as_script.status_code == 422 and as_script.json()["details"][0]["field"] == "identity_number"


async def test_checkout_stores_the_order_and_shows_the_tax_breakdown_and_the_pay_button(
    ctx: Context, web: httpx.AsyncClient
) -> None:
    sale = await make_sale(ctx, price_fen=45_000, original_fen=90_000)
    await taxed_as(ctx, sale.item_id, "consumption_tax")
    buyer = await buyer_client(web, ctx)
    order = (await buying.buy(ctx, buyer, sale.item_id, 2, "cosmetics")).order
    answer = await web.post(f"/orders/{order['order_no']}/checkout", data=new_identity())
    assert answer.status_code == 303 and answer.headers["location"] == f"/orders/{order['order_no']}#payment"
    stored = await checkout.get_checkout(ctx, buyer, order["order_no"])
    assert stored.buyer == DeclaredBuyerView(name="李娜", id_number="1101**********0025")
    assert stored.consignee.phone == "13800138000" and stored.consignee.district == "330106"
    [line] = stored.lines
    assert line.consumption_tax != "0.00" and line.vat != "0.00"
    page = (await web.get(f"/orders/{order['order_no']}")).text
    total = formatting.yuan(stored.total)
    assert f"Checkout complete: {total} to pay" in page
    for label, amount in [
        ("Goods value", stored.goods_value),
        ("Freight", stored.freight),
        ("Discount", stored.discount),
        ("Cross-border tax", stored.tax),
        ("Total payable", stored.total),
    ]:
        assert re.search(
            rf"<dt>{label}</dt><dd[^>]*>{MINUS}?{re.escape(formatting.yuan(amount))}</dd>", page
        ), label
    assert f'data-label="VAT">{formatting.yuan(line.vat)}<' in page
    assert f'data-label="Consumption tax">{formatting.yuan(line.consumption_tax)}<' in page
    assert re.search(r"¥\d{1,3}(,\d{3})*\.\d\d", total)
    assert f"Pay {total}</button>" in page and "Complete checkout to pay" not in page
    assert "1101**********0025" in page and LI_NA[1] not in page
    assert f"Pay {total}" in (await web.get("/orders")).text
    # Redone before paying: the same identity, another address.
    [person] = await identities.list_identities(ctx, buyer)
    again = await web.post(
        f"/orders/{order['order_no']}/checkout",
        data=checkout_form(person.id, consignee_address="文二路 1 号"),
    )
    assert again.status_code == 303
    redone = (await checkout.get_checkout(ctx, buyer, order["order_no"])).consignee
    assert redone.address == "浙江省杭州市西湖区 文二路 1 号" and redone.district == "330106"


async def test_checkout_is_refused_in_plain_words_once_payment_started_or_over_a_limit(
    ctx: Context, web: httpx.AsyncClient
) -> None:
    buyer = await buyer_client(web, ctx)
    person = await identities.add_identity(ctx, buyer, *LI_NA)
    # Two units at 2,500.00 were within the limit when bought; freight of 10.00 since then puts them over.
    big = await make_sale(ctx, price_fen=250_000, original_fen=500_000)
    too_much = (await buying.buy(ctx, buyer, big.item_id, 2, "over-the-limit")).order
    free_shipping = ctx.settings
    ctx.settings = free_shipping.model_copy(update={"freight_fen": 1_000})
    try:
        refused = await web.post(f"/orders/{too_much['order_no']}/checkout", data=checkout_form(person.id))
    finally:
        ctx.settings = free_shipping
    assert refused.status_code == 409
    assert "over the cross-border limit for one order" in refused.text and "¥5,000.00" in refused.text
    assert "buy fewer units" in refused.text and await checked_out_at(ctx, too_much["order_no"]) is None
    sale = await make_sale(ctx)
    order = (await buying.buy(ctx, buyer, sale.item_id, 1, "paying")).order
    assert (
        await web.post(f"/orders/{order['order_no']}/checkout", data=checkout_form(person.id))
    ).is_redirect
    started = await web.post(f"/orders/{order['order_no']}/pay", data={"csrf_token": CSRF})
    assert started.status_code == 303 and "/orders/" not in started.headers["location"]
    late = await web.post(
        f"/orders/{order['order_no']}/checkout",
        data=checkout_form(person.id, consignee_address="elsewhere"),
    )
    assert late.status_code == 409 and "Checkout can no longer change" in late.text
    assert "Payment has started" in late.text and "data-checkout-form" not in late.text
    # Paying may continue, but no bright Pay button suggests it has not been paid.
    assert "data-continue-payment" in late.text and "data-pay-button" not in late.text
    assert "waiting for the payment company to confirm it" in late.text
    listed = (await web.get("/orders")).text
    assert "data-payment-started" in listed and "data-pay-button" not in listed
    kept = (await checkout.get_checkout(ctx, buyer, order["order_no"])).consignee.address
    assert kept == f"浙江省杭州市西湖区 {ADDRESS}"


async def test_paying_before_checkout_leads_back_to_the_checkout_form(
    ctx: Context, web: httpx.AsyncClient
) -> None:
    sale = await make_sale(ctx)
    buyer = await buyer_client(web, ctx)
    order = (await buying.buy(ctx, buyer, sale.item_id, 1, "too-soon")).order
    answer = await web.post(f"/orders/{order['order_no']}/pay", data={"csrf_token": CSRF})
    assert answer.status_code == 303 and answer.headers["location"] == f"/orders/{order['order_no']}#checkout"
    page = (await web.get(f"/orders/{order['order_no']}")).text
    assert "Complete checkout first" in page and "data-checkout-form" in page
    reloaded = await web.get(f"/orders/{order['order_no']}/checkout")
    assert reloaded.status_code == 303 and reloaded.headers["location"].endswith("#checkout")
    as_script = await web.post(f"/orders/{order['order_no']}/pay", headers=JSON)
    assert as_script.status_code == 409 and as_script.json()["code"] == "checkout_required"


async def test_checkout_needs_the_csrf_token(ctx: Context, web: httpx.AsyncClient) -> None:
    sale = await make_sale(ctx)
    buyer = await buyer_client(web, ctx)
    order = (await buying.buy(ctx, buyer, sale.item_id, 1, "forged")).order
    form = {k: v for k, v in new_identity().items() if k != "csrf_token"}
    assert (await web.post(f"/orders/{order['order_no']}/checkout", data=form)).status_code == 403
    forged = {**form, "csrf_token": "guess"}
    assert (await web.post(f"/orders/{order['order_no']}/checkout", data=forged)).status_code == 403
    assert await identities.list_identities(ctx, buyer) == []
    assert await checked_out_at(ctx, order["order_no"]) is None


async def test_no_buyer_can_check_out_another_buyers_order(ctx: Context, web: httpx.AsyncClient) -> None:
    sale = await make_sale(ctx)
    owner, _ = await make_user(ctx, Role.BUYER)
    theirs = (await buying.buy(ctx, owner, sale.item_id, 1, "not-yours")).order
    intruder = await buyer_client(web, ctx)
    mine = await identities.add_identity(ctx, intruder, *LI_NA)
    picked = await web.post(f"/orders/{theirs['order_no']}/checkout", data=checkout_form(mine.id))
    assert picked.status_code == 404 and "Not found" in picked.text
    added = await web.post(
        f"/orders/{theirs['order_no']}/checkout", data=new_identity(("王伟", "11010519491231002X"))
    )
    assert added.status_code == 404
    assert len(await identities.list_identities(ctx, intruder)) == 1  # nothing added on the way
    assert await checked_out_at(ctx, theirs["order_no"]) is None


async def test_the_identities_page_lists_adds_and_removes_with_masked_numbers_only(
    ctx: Context, web: httpx.AsyncClient
) -> None:
    buyer = await buyer_client(web, ctx)
    empty = await web.get("/account/identities")
    assert empty.status_code == 200 and "No identities yet" in empty.text
    form = {"csrf_token": CSRF, "identity_name": "李娜", "identity_number": LI_NA[1]}
    assert (await web.post("/account/identities", data={**form, "csrf_token": "x"})).status_code == 403
    added = await web.post("/account/identities", data=form)
    assert added.status_code == 303 and added.headers["location"] == "/account/identities"
    page = (await web.get("/account/identities")).text
    assert "Added 李娜 (1101**********0025)" in page and LI_NA[1] not in page
    twice = await web.post("/account/identities", data=form)
    assert twice.status_code == 409 and "already one of your identities" in twice.text
    assert LI_NA[1] not in twice.text
    bad = await web.post("/account/identities", data={**form, "identity_name": "X", "identity_number": "123"})
    assert (
        bad.status_code == 422
        and 'id="identity_name-error"' in bad.text
        and 'id="identity_number-error"' in bad.text
    )
    [person] = await identities.list_identities(ctx, buyer)
    other, _ = await make_user(ctx, Role.BUYER)
    theirs = await identities.add_identity(ctx, other, "王伟", "11010519491231002X")
    refused = await web.post(f"/account/identities/{theirs.id}/delete", data={"csrf_token": CSRF})
    assert refused.status_code == 303 and len(await identities.list_identities(ctx, other)) == 1
    removed = await web.post(f"/account/identities/{person.id}/delete", data={"csrf_token": CSRF})
    assert removed.status_code == 303 and await identities.list_identities(ctx, buyer) == []
    assert "Identity removed" in (await web.get("/account/identities")).text
