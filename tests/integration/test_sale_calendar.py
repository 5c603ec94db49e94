"""The sale calendar (issue 16 point 1): events by day and channel; a new event and its items built in
the console, with the length, price band, free stock, overlap and brand clash shown before saving (the
check answers calendar.js asks while the form is typed); each action audited; merchandisers may,
customer service may not."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
import sqlalchemy as sa

from flashport.adapters.db.schema import operator_audit, sale_items, stock
from flashport.app import create_app
from flashport.domain.accounts import Role
from flashport.domain.calendar import CHINA
from flashport.services.context import Context
from flashport.web import session as web_session
from tests.factories import make_user
from tests.sale_builder import make_sale

CSRF = "calendar-csrf"
JSON = {"accept": "application/json"}


@pytest.fixture
async def http(ctx: Context) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(ctx=ctx))
    # The console is read in English here (its second language; tests/integration/test_console_language.py
    # reads it in Chinese, its default).
    english = {"accept-language": "en"}
    async with httpx.AsyncClient(transport=transport, base_url="http://shop.test", headers=english) as client:
        yield client


async def _log_in(http: httpx.AsyncClient, ctx: Context, role: Role) -> int:
    user_id, _ = await make_user(ctx, role)
    data = {"uid": user_id, "role": role.value, "name": role.value, "csrf": CSRF}
    http.cookies.clear()
    http.cookies.set(
        web_session.COOKIE, web_session.encode(data, ctx.settings.keys.secret, 3600), domain="shop.test"
    )
    return user_id


def _local(ctx: Context, days: float) -> str:
    return (ctx.clock() + timedelta(days=days)).astimezone(CHINA).strftime("%Y-%m-%dT%H:%M")


async def _sku_of(ctx: Context, item_id: int) -> tuple[int, int]:
    async with ctx.transaction() as tx:
        row = (await tx.conn.execute(sa.select(sale_items).where(sale_items.c.id == item_id))).one()
        await tx.conn.execute(  # ten more units arrive, free for another sale
            stock.update().where(stock.c.sku_id == row.sku_id).values(on_hand=stock.c.on_hand + 10)
        )
    return int(row.sku_id), int(row.warehouse_id)


async def test_an_event_is_built_in_the_calendar_with_its_problems_shown_before_saving(
    ctx: Context, http: httpx.AsyncClient
) -> None:
    running = await make_sale(ctx, quantity=5, original_fen=29800)  # a week from a minute ago, same channel
    sku_id, warehouse_id = await _sku_of(ctx, running.item_id)
    merchandiser = await _log_in(http, ctx, Role.MERCHANDISER)
    start, short_end, end = _local(ctx, 1), _local(ctx, 2), _local(ctx, 7)

    base = {"channel": "global-flash-sale", "starts_at": start}
    too_short = (await http.get("/operator/events/check.json", params={**base, "ends_at": short_end})).json()
    assert "between 5 and 10 days" in too_short["problems"]["ends_at"]
    fine = (await http.get("/operator/events/check.json", params={**base, "ends_at": end})).json()
    assert fine["problems"] == {} and any(
        "runs on global-flash-sale at the same time" in w for w in fine["warnings"]
    )

    refused = await http.post(
        "/operator/events", data={"csrf_token": CSRF, "title": "Dairy week", **base, "ends_at": short_end}
    )
    assert refused.status_code == 422 and "An event lasts 5 to 10 days." in refused.text
    created = await http.post(
        "/operator/events",
        data={"csrf_token": CSRF, "title": "Dairy week", "description": "", **base, "ends_at": end},
    )
    assert created.status_code == 303, created.text
    event_url = created.headers["location"]
    event_id = int(event_url.rsplit("/", 1)[1])

    check = f"{event_url}/items/check.json"
    item = {"sku_id": sku_id, "warehouse_id": warehouse_id}
    cheap = (await http.get(check, params={**item, "sale_price": "20.00", "quantity": "5"})).json()
    assert "between 10% and 50%" in cheap["problems"]["sale_price"]
    assert (cheap["facts"]["band_low"], cheap["facts"]["band_high"], cheap["facts"]["free"]) == (
        "29.80",
        "149.00",
        10,
    )
    assert any("also on sale in" in w for w in cheap["warnings"])  # the brand is booked in the running sale
    short = (await http.get(check, params={**item, "sale_price": "99.00", "quantity": "11"})).json()
    assert short["problems"] == {"quantity": "only 10 units are free in this warehouse; 11 asked"}

    added = await http.post(
        f"{event_url}/items",
        data={"csrf_token": CSRF, **item, "sale_price": "99.00", "quantity": "10", "per_buyer_limit": "2"},
    )
    assert added.status_code == 303
    scheduled = await http.post(f"{event_url}/schedule", data={"csrf_token": CSRF})
    assert scheduled.status_code == 303
    page = await http.get(event_url)
    assert 'data-status="scheduled">Scheduled<' in page.text and page.text.count("data-item-id=") == 1

    month = _local(ctx, 1)[:7]
    calendar = await http.get("/operator/calendar", params={"month": month})
    assert calendar.status_code == 200 and f'data-event-id="{event_id}"' in calendar.text
    assert f'data-event-id="{running.event_id}"' in calendar.text

    async with ctx.read() as conn:
        audit = (await conn.execute(sa.select(operator_audit).order_by(operator_audit.c.id))).all()
    assert [(a.action, a.subject, a.operator_id) for a in audit] == [
        ("event.created", f"event:{event_id}", merchandiser),
        ("sale_item.added", f"event:{event_id}", merchandiser),
        ("event.scheduled", f"event:{event_id}", merchandiser),
    ]


async def test_customer_service_cannot_open_the_calendar(ctx: Context, http: httpx.AsyncClient) -> None:
    await _log_in(http, ctx, Role.CUSTOMER_SERVICE)
    assert (await http.get("/operator/calendar", headers=JSON)).status_code == 403
    refused = await http.post("/operator/events", data={"csrf_token": CSRF, "title": "x"}, headers=JSON)
    assert (refused.status_code, refused.json()["code"]) == (403, "not_your_section")
