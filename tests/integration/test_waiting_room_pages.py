"""The storefront's waiting room (issue 19, point 1): a hot item's page sends buyers to the queue, the
queue page in both languages, its cheap JSON poll, and the buy form carrying the admission token."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from flashport.app import create_app
from flashport.domain.accounts import Role
from flashport.services.context import Context
from flashport.services.waiting_room import rooms
from flashport.web import session as web_session
from tests.factories import make_user
from tests.sale_builder import make_sale

CSRF = "queue-csrf"
EN = {"accept-language": "en"}


class StillClock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, by: timedelta) -> None:
        self.now += by


@pytest.fixture
def ctx(buy_ctx: Context) -> Context:
    """Both stock engines, so the queue runs on the database and on Redis (adapters/waiting_room)."""
    return buy_ctx


@pytest.fixture
async def web(ctx: Context) -> AsyncIterator[httpx.AsyncClient]:
    ctx.settings = ctx.settings.model_copy(update={"queue_refresh_seconds": 0.001, "queue_challenge_bits": 0})
    transport = httpx.ASGITransport(app=create_app(ctx=ctx))
    async with httpx.AsyncClient(transport=transport, base_url="http://shop.test") as http:
        yield http


async def _as_buyer(client: httpx.AsyncClient, ctx: Context) -> int:
    user_id, _ = await make_user(ctx, Role.BUYER)
    data = {"uid": user_id, "role": "buyer", "name": "Test Buyer", "csrf": CSRF}
    client.cookies.set(
        web_session.COOKIE, web_session.encode(data, ctx.settings.keys.secret, 3600), "shop.test"
    )
    return user_id


async def test_a_hot_items_page_sends_buyers_to_the_queue_which_speaks_both_languages(
    ctx: Context, web: httpx.AsyncClient
) -> None:
    clock = StillClock()
    ctx.clock = clock
    sale = await make_sale(ctx, quantity=3, limit=1)
    operator, _ = await make_user(ctx, Role.OPERATOR)
    await rooms.mark_hot(ctx, operator, sale.item_id, rooms.RoomSettings(admit_per_second=0.01))
    await _as_buyer(web, ctx)
    item = (await web.get(f"/items/{sale.item_id}", headers=EN)).text
    assert f'href="/items/{sale.item_id}/queue"' in item and "Join the queue" in item
    assert 'name="idempotency_key"' not in item  # no buy form without admission
    page = (await web.get(f"/items/{sale.item_id}/queue", headers=EN)).text
    assert "Join the queue" in page
    joined = await web.post(f"/items/{sale.item_id}/queue", data={"csrf_token": CSRF}, headers=EN)
    assert joined.status_code == 303 and joined.headers["location"] == f"/items/{sale.item_id}/queue"
    english = (await web.get(f"/items/{sale.item_id}/queue", headers=EN)).text
    assert "You are number 1 in the queue" in english
    chinese = (await web.get(f"/items/{sale.item_id}/queue")).text  # Chinese is the default
    assert "您在队列中排第 1 位" in chinese
    status = await web.get(f"/items/{sale.item_id}/queue/status")
    assert status.json()["state"] == "waiting" and status.json()["position"] == 1
    unchanged = await web.get(
        f"/items/{sale.item_id}/queue/status", headers={"if-none-match": status.headers["etag"]}
    )
    assert unchanged.status_code == 304


async def test_an_admitted_buyer_buys_through_the_item_pages_form_with_the_token(
    ctx: Context, web: httpx.AsyncClient
) -> None:
    clock = StillClock()
    ctx.clock = clock
    sale = await make_sale(ctx, quantity=3, limit=1)
    operator, _ = await make_user(ctx, Role.OPERATOR)
    await rooms.mark_hot(ctx, operator, sale.item_id, rooms.RoomSettings(admit_per_second=10))
    await _as_buyer(web, ctx)
    await web.post(f"/items/{sale.item_id}/queue", data={"csrf_token": CSRF})
    clock.advance(timedelta(seconds=1))
    page = (await web.get(f"/items/{sale.item_id}/queue", headers=EN)).text
    link = re.search(rf'href="(/items/{sale.item_id}\?admission=[^"]+)"', page)
    assert link is not None and "It is your turn" in page
    item = (await web.get(link.group(1).replace("&amp;", "&"), headers=EN)).text
    token = re.search(r'name="admission" value="([^"]+)"', item)
    key = re.search(r'name="idempotency_key" value="([^"]+)"', item)
    assert token is not None and key is not None
    json_headers = {"accept": "application/json", "x-csrf-token": CSRF}
    without = await web.post(
        f"/items/{sale.item_id}/buy", data={"csrf_token": CSRF, "idempotency_key": "x1"}, headers=json_headers
    )
    assert without.status_code == 403 and without.json()["code"] == "admission_required"
    form = {"csrf_token": CSRF, "idempotency_key": key.group(1), "admission": token.group(1), "quantity": "1"}
    bought = await web.post(f"/items/{sale.item_id}/buy", data=form, headers=json_headers)
    assert bought.status_code == 201
