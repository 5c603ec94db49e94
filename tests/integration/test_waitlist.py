"""The waitlist of a sold-out item: one place per buyer, the place shown, and when expiries bring units
back the waiting buyers are told first come first served, as many as units came back."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
import sqlalchemy as sa

from flashport.adapters.db.schema import users
from flashport.adapters.notify.channels import Channels, SandboxSms, SmtpMailer
from flashport.services.context import Context
from flashport.services.notify import queueing, sending
from flashport.services.orders import lifecycle as orders
from flashport.services.sales import buying
from tests.clocks import ShiftedClock
from tests.factories import auth
from tests.mailbox import Mailbox, smtp_server
from tests.sale_builder import make_buyers, make_sale
from tests.waiting import eventually


@pytest.fixture
async def mailbox(ctx: Context) -> AsyncIterator[Mailbox]:
    async with smtp_server() as box:
        settings = ctx.settings.model_copy(
            update={"smtp_host": "127.0.0.1", "smtp_port": box.port, "smtp_tls": "none"}
        )
        ctx.notify_channels = Channels(SmtpMailer(settings), SandboxSms())
        ctx.clock = ShiftedClock()
        yield box


def url(item_id: int) -> str:
    return f"/api/v1/sale-items/{item_id}/waitlist"


async def sold_out(ctx: Context, quantity: int = 1) -> tuple[int, list[int]]:
    """A live item all of whose units are held by pending orders, one buyer each, a minute apart:
    (item, the holders)."""
    sale = await make_sale(ctx, quantity=quantity, limit=1)
    holders = [b for b, _ in await make_buyers(ctx, quantity)]
    for n, holder in enumerate(holders):
        await buying.buy(ctx, holder, sale.item_id, 1, f"k{n}")
        if isinstance(ctx.clock, ShiftedClock):
            ctx.clock.advance(timedelta(minutes=1))
    return sale.item_id, holders


async def test_one_place_per_buyer_and_each_sees_where_they_stand(
    ctx: Context, client: httpx.AsyncClient
) -> None:
    item, _ = await sold_out(ctx)
    waiting = await make_buyers(ctx, 3)
    for _, token in waiting:
        assert (await client.post(url(item), headers=auth(token))).status_code == 200
    again = await client.post(url(item), headers=auth(waiting[0][1]))  # twice: still the first place
    assert again.json() | {"told_at": None} == {"item_id": item, "waiting": True, "ahead": 0, "told_at": None}
    assert [(await client.get(url(item), headers=auth(t))).json()["ahead"] for _, t in waiting] == [0, 1, 2]
    left = await client.delete(url(item), headers=auth(waiting[0][1]))
    assert left.json()["waiting"] is False
    assert [(await client.get(url(item), headers=auth(t))).json()["ahead"] for _, t in waiting[1:]] == [0, 1]
    await client.post(url(item), headers=auth(waiting[0][1]))  # back in line: at the back
    assert (await client.get(url(item), headers=auth(waiting[0][1]))).json()["ahead"] == 2


async def test_an_item_still_on_sale_has_no_waitlist(ctx: Context, client: httpx.AsyncClient) -> None:
    sale = await make_sale(ctx, quantity=3)
    [(_, token)] = await make_buyers(ctx, 1)
    answer = await client.post(url(sale.item_id), headers=auth(token))
    assert answer.status_code == 409
    assert answer.json()["code"] == "not_sold_out" and "buy one" in answer.json()["message"]
    missing = await client.post(url(999999), headers=auth(token))
    assert missing.status_code == 404 and missing.json()["code"] == "sale_item_not_found"
    assert (await client.post(url(sale.item_id))).status_code == 401


async def test_units_back_are_offered_first_come_first_served(
    ctx: Context, client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    item, _ = await sold_out(ctx, quantity=2)
    waiting = await make_buyers(ctx, 3)
    for _, token in waiting:
        assert (await client.post(url(item), headers=auth(token))).status_code == 200
    emails = {}
    async with ctx.read() as conn:
        for buyer, _ in waiting:
            emails[buyer] = await conn.scalar(sa.select(users.c.email).where(users.c.id == buyer))
    assert isinstance(ctx.clock, ShiftedClock)
    ctx.clock.advance(timedelta(minutes=18, seconds=30))  # the first order's 20 minutes are over
    assert await orders.expire_unpaid_orders(ctx) == 1

    async def told(count: int) -> bool:
        await queueing.queue_from_outbox(ctx)
        await sending.send_due(ctx)
        return (
            len([m for m in mailbox.messages if "Back in stock" in m["Subject"] or "补货" in m["Subject"]])
            >= count
        )

    await eventually(lambda: told(1), what="the first waiting buyer told")
    assert mailbox.recipients == [[emails[waiting[0][0]]]]
    first = (await client.get(url(item), headers=auth(waiting[0][1]))).json()
    assert first["told_at"] is not None
    assert (await client.get(url(item), headers=auth(waiting[1][1]))).json()["ahead"] == 0

    ctx.clock.advance(timedelta(minutes=1))  # the second order's too: the next buyer, only them
    assert await orders.expire_unpaid_orders(ctx) == 1
    await eventually(lambda: told(2), what="the second waiting buyer told")
    await queueing.queue_from_outbox(ctx)
    await sending.send_due(ctx)
    assert mailbox.recipients == [[emails[waiting[0][0]]], [emails[waiting[1][0]]]]
    last = (await client.get(url(item), headers=auth(waiting[2][1]))).json()
    assert last == {"item_id": item, "waiting": True, "ahead": 0, "told_at": None}
