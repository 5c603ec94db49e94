"""The storefront's side of notifications: the waitlist form on a sold-out item's page and where the
buyer stands, "remind me" on an upcoming sale, and the account page of notification preferences."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest

from flashport.app import create_app
from flashport.services.context import Context
from flashport.services.notify import preferences, reminders
from flashport.services.sales import buying
from tests.integration.test_web_pages import FORM, log_in_as
from tests.sale_builder import make_buyers, make_sale


@pytest.fixture
async def web(ctx: Context) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(ctx=ctx))
    english = {"accept-language": "en-GB,en;q=0.9"}
    async with httpx.AsyncClient(transport=transport, base_url="http://shop.test", headers=english) as http:
        yield http


async def sold_out_item(ctx: Context) -> int:
    sale = await make_sale(ctx, quantity=1, limit=1)
    [(holder, _)] = await make_buyers(ctx, 1)
    await buying.buy(ctx, holder, sale.item_id, 1, "k")
    return sale.item_id


async def test_a_sold_out_item_offers_its_waitlist_and_shows_the_buyers_place(
    ctx: Context, web: httpx.AsyncClient
) -> None:
    item = await sold_out_item(ctx)
    (first, _), (second, _) = await make_buyers(ctx, 2)
    log_in_as(web, ctx, first)
    page = (await web.get(f"/items/{item}")).text
    assert 'id="waitlist"' in page and f'action="/items/{item}/waitlist"' in page
    joined = await web.post(f"/items/{item}/waitlist", headers=FORM)
    assert joined.status_code == 303 and joined.headers["location"].endswith(f"/items/{item}#waitlist")
    page = (await web.get(f"/items/{item}")).text
    assert "You are next" in page and "Leave the waitlist" in page
    web.cookies.clear()
    log_in_as(web, ctx, second)
    await web.post(f"/items/{item}/waitlist", headers=FORM)
    assert "You are on the waitlist: 1 buyers before you." in (await web.get(f"/items/{item}")).text


async def test_visitors_are_asked_to_log_in_to_wait(ctx: Context, web: httpx.AsyncClient) -> None:
    item = await sold_out_item(ctx)
    assert "Log in to join the waitlist" in (await web.get(f"/items/{item}")).text


async def test_joining_an_item_still_on_sale_says_why_not(ctx: Context, web: httpx.AsyncClient) -> None:
    sale = await make_sale(ctx, quantity=3)
    [(buyer, _)] = await make_buyers(ctx, 1)
    log_in_as(web, ctx, buyer)
    answer = await web.post(f"/items/{sale.item_id}/waitlist", headers=FORM, follow_redirects=True)
    assert "Units are still on sale: buy one now instead of waiting." in answer.text


async def test_an_upcoming_sale_offers_a_reminder(ctx: Context, web: httpx.AsyncClient) -> None:
    sale = await make_sale(ctx, starts_in=timedelta(hours=1))
    [(buyer, _)] = await make_buyers(ctx, 1)
    log_in_as(web, ctx, buyer)
    assert f'action="/events/{sale.event_id}/reminder"' in (await web.get(f"/events/{sale.event_id}")).text
    answer = await web.post(f"/events/{sale.event_id}/reminder", headers=FORM, follow_redirects=True)
    assert "Reminder set" in answer.text
    assert await reminders.is_reminded(ctx, buyer, sale.event_id)


async def test_the_account_page_turns_kinds_off_and_sets_the_language(
    ctx: Context, web: httpx.AsyncClient
) -> None:
    [(buyer, _)] = await make_buyers(ctx, 1)
    log_in_as(web, ctx, buyer)
    page = (await web.get("/account/notifications")).text
    assert page.count('type="checkbox"') == 9 and page.count(" checked") == 9
    form = {"language": "en", "mobile": "13800138000", "kind_paid": "on", "kind_refunded": "on"}
    saved = await web.post("/account/notifications", data=form, headers=FORM, follow_redirects=True)
    assert "Notification preferences saved." in saved.text
    prefs = await preferences.of_buyer(ctx, buyer)
    assert prefs.language == "en" and prefs.mobile == "13800138000"
    assert {k.value for k in prefs.muted} == {
        "sale_opens",
        "pay_soon",
        "released",
        "shipped",
        "delivered",
        "cancel_refused",
        "waitlist",
    }
    bad = await web.post("/account/notifications", data={"language": "en", "mobile": "123"}, headers=FORM)
    assert bad.status_code == 422 and "11 digits" in bad.text
