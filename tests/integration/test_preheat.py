"""The pre-heat date of a sale (issue 16, sale calendar): a merchandiser sets it in the console's event
form (refused, with the reason beside the field, unless it is before the start; checked while typing
too), the calendar marks the pre-heat days, and buyers see nothing of the sale before it: not on the
home page, not its item page, not in the API. From the pre-heat on the sale is "coming soon" with its
items, prices and countdown and no buy button, and the API lists it with its ``preheat_at``."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI

from flashport.adapters.db.schema import sale_items, stock
from flashport.app import create_app
from flashport.domain.accounts import Role
from flashport.domain.calendar import CHINA
from flashport.services.context import Context
from flashport.web import session as web_session
from flashport.web.state import PAGE_TTL, Storefront
from tests.clocks import ManualTimer, ShiftedClock
from tests.factories import make_user
from tests.sale_builder import make_sale

CSRF = "preheat-csrf"
ENGLISH = {"accept-language": "en-GB,en;q=0.9"}


@pytest.fixture
def clock(ctx: Context) -> ShiftedClock:
    shifted = ShiftedClock()
    ctx.clock = shifted
    return shifted


@pytest.fixture
def page_clock() -> ManualTimer:
    return ManualTimer()


@pytest.fixture
def app(ctx: Context, clock: ShiftedClock, page_clock: ManualTimer) -> FastAPI:
    made = create_app(ctx=ctx)
    made.state.storefront = Storefront(made.state.storefront.templates, clock=page_clock)
    return made


async def _client(app: FastAPI) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app)
    return httpx.AsyncClient(transport=transport, base_url="http://shop.test", headers=ENGLISH)


@pytest.fixture
async def staff(app: FastAPI, ctx: Context) -> AsyncIterator[httpx.AsyncClient]:
    async with await _client(app) as client:
        await _log_in(client, ctx, Role.MERCHANDISER)
        yield client


@pytest.fixture
async def buyer(app: FastAPI, ctx: Context) -> AsyncIterator[httpx.AsyncClient]:
    async with await _client(app) as client:
        await _log_in(client, ctx, Role.BUYER)
        yield client


async def _log_in(client: httpx.AsyncClient, ctx: Context, role: Role) -> None:
    user_id, _ = await make_user(ctx, role)
    data = {"uid": user_id, "role": role.value, "name": role.value, "csrf": CSRF}
    cookie = web_session.encode(data, ctx.settings.keys.secret, 3600)
    client.cookies.set(web_session.COOKIE, cookie, domain="shop.test")


def _local(ctx: Context, days: float) -> str:
    return (ctx.clock() + timedelta(days=days)).astimezone(CHINA).strftime("%Y-%m-%dT%H:%M")


async def _free_sku(ctx: Context) -> dict[str, int]:
    """An SKU with ten units free in its warehouse (beside a running sale of the same SKU)."""
    running = await make_sale(ctx, quantity=5)
    async with ctx.transaction() as tx:
        row = (await tx.conn.execute(sa.select(sale_items).where(sale_items.c.id == running.item_id))).one()
        await tx.conn.execute(
            stock.update().where(stock.c.sku_id == row.sku_id).values(on_hand=stock.c.on_hand + 10)
        )
    return {"sku_id": int(row.sku_id), "warehouse_id": int(row.warehouse_id)}


async def test_a_sale_is_hidden_from_buyers_until_its_preheat_then_shown_without_a_buy_button(
    ctx: Context,
    clock: ShiftedClock,
    page_clock: ManualTimer,
    staff: httpx.AsyncClient,
    buyer: httpx.AsyncClient,
) -> None:
    sku = await _free_sku(ctx)
    event = {"title": "Alpine week", "channel": "global-flash-sale", "description": ""}
    times = {"starts_at": _local(ctx, 3), "ends_at": _local(ctx, 10)}

    late = {**times, "preheat_at": _local(ctx, 4)}
    typed = await staff.get("/operator/events/check.json", params={"channel": "global-flash-sale", **late})
    assert "before the start" in typed.json()["problems"]["preheat_at"]
    refused = await staff.post("/operator/events", data={"csrf_token": CSRF, **event, **late})
    assert refused.status_code == 422 and "the pre-heat must come before the start" in refused.text.lower()

    preheat = _local(ctx, 1)
    created = await staff.post(
        "/operator/events", data={"csrf_token": CSRF, **event, **times, "preheat_at": preheat}
    )
    assert created.status_code == 303, created.text
    event_url = created.headers["location"]
    event_id = int(event_url.rsplit("/", 1)[1])
    item = {"csrf_token": CSRF, **sku, "sale_price": "99.00", "quantity": "5", "per_buyer_limit": "2"}
    assert (await staff.post(f"{event_url}/items", data=item)).status_code == 303
    assert (await staff.post(f"{event_url}/schedule", data={"csrf_token": CSRF})).status_code == 303
    page = (await staff.get(event_url)).text
    assert f'value="{preheat}"' in page and "pre-heat from" in page
    item_id = int(re.findall(r'data-item-id="(\d+)"', page)[0])

    calendar = (await staff.get("/operator/calendar", params={"month": preheat[:7]})).text
    preheat_day = re.search(rf'<tr data-day="{preheat[:10]}">(.*?)</tr>', calendar, re.S)
    assert preheat_day and f'data-preheat-event-id="{event_id}"' in preheat_day.group(1)

    # Before the pre-heat: nothing of the sale reaches buyers.
    assert f"/events/{event_id}" not in (await buyer.get("/")).text
    assert (await buyer.get(f"/items/{item_id}")).status_code == 404
    assert (await buyer.get(f"/events/{event_id}")).status_code == 404
    assert event_id not in [e["id"] for e in (await buyer.get("/api/v1/events")).json()]
    assert (await buyer.get(f"/api/v1/sale-items/{item_id}")).status_code == 404

    clock.advance(timedelta(days=1, minutes=1))
    page_clock.advance(PAGE_TTL + 0.1)

    home = (await buyer.get("/")).text
    assert home.index("Coming soon") < home.index(f"/events/{event_id}")
    shown = await buyer.get(f"/items/{item_id}")
    assert shown.status_code == 200
    assert "99.00" in shown.text and "Starts in" in shown.text and "data-countdown-to" in shown.text
    assert "data-buy-form" not in shown.text and "data-basket-add" not in shown.text
    [listed] = [e for e in (await buyer.get("/api/v1/events?status=upcoming")).json() if e["id"] == event_id]
    assert listed["preheat_at"] is not None and listed["status"] == "scheduled"


async def test_an_edit_that_moves_the_start_before_the_preheat_is_refused_with_the_reason(
    ctx: Context, staff: httpx.AsyncClient
) -> None:
    times = {"starts_at": _local(ctx, 3), "ends_at": _local(ctx, 10), "preheat_at": _local(ctx, 2)}
    event = {"csrf_token": CSRF, "title": "Alpine week", "channel": "global-flash-sale", "description": ""}
    created = await staff.post("/operator/events", data={**event, **times})
    event_url = created.headers["location"]
    moved = {**event, **times, "starts_at": _local(ctx, 1.5), "ends_at": _local(ctx, 8.5)}
    refused = await staff.post(f"{event_url}/edit", data=moved, headers={"accept": "application/json"})
    answer = refused.json()
    assert (refused.status_code, answer["code"]) == (422, "preheat_not_before_start")
    assert "pre-heat must come before the start" in answer["message"]
    flashed = await staff.post(f"{event_url}/edit", data=moved, follow_redirects=True)
    assert "pre-heat must come before the start" in flashed.text
    cleared = {**event, **times, "preheat_at": ""}
    assert (await staff.post(f"{event_url}/edit", data=cleared)).status_code == 303
    assert 'name="preheat_at" type="datetime-local" value=""' in (await staff.get(event_url)).text
