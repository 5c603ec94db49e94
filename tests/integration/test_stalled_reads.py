"""Reads of the database on the paths a sale's load takes, with the database stalled (the chaos case
"PostgreSQL stalled"): none holds a request past its deadline. The item terms and the hot set are
served as last read while their refresh is stalled, or 503 by the deadline with none usable; a payment
notification the database cannot settle in time is answered 503 with Retry-After, and settled once for
its retry. A stalled read is a repository function that waits on an event the test sets."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
import sqlalchemy as sa

from flashport.adapters.db import orders_repo, settlement_repo
from flashport.adapters.db import waiting_room_repo as rooms_repo
from flashport.adapters.db.schema import orders, outbox, payments
from flashport.adapters.payments import alipay_protocol as proto
from flashport.app import create_app
from flashport.bench import notify as bench
from flashport.bootstrap import build_context, close_context
from flashport.domain.errors import ServiceUnavailable
from flashport.sandbox_pay.keys import ensure_keys
from flashport.services.context import Context
from flashport.services.sales import buy_path, buying
from flashport.services.waiting_room import queue
from flashport.services.waiting_room.state import WaitingRooms
from tests.clocks import ManualTimer
from tests.sale_builder import make_buyers, make_sale
from tests.servers import serving
from tests.waiting import eventually

SAFETY_NET = 60.0  # a request held this long is one the code let wait on the stalled read
DEADLINE = 0.2  # the deadline of a context that is to strike it (the suite's is two minutes)


class Stall:
    """A repository function that, once :meth:`begin` is called, waits until :meth:`end`, as a read
    sent to a database that stopped answering does; how many reads began meanwhile is counted."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, module: Any, name: str) -> None:
        self.over = asyncio.Event()
        self.over.set()
        self.held = 0
        real = getattr(module, name)

        async def read(*args: Any, **kwargs: Any) -> Any:
            if not self.over.is_set():
                self.held += 1
                await self.over.wait()
            return await real(*args, **kwargs)

        monkeypatch.setattr(module, name, read)

    def begin(self) -> None:
        self.over.clear()

    def end(self) -> None:
        self.over.set()


@pytest.fixture
async def deadline_ctx(buy_ctx: Context) -> AsyncIterator[Context]:
    """Another API process on the same stores, with a short buy and notification deadline."""
    settings = buy_ctx.settings.model_copy(
        update={"buy_deadline_seconds": DEADLINE, "payment_notify_deadline_seconds": DEADLINE}
    )
    other = await build_context(settings, listen_for_restock=False)
    try:
        yield other
    finally:
        await close_context(other)


async def test_a_purchase_is_not_held_by_a_stalled_refresh_of_its_items_terms(
    buy_ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    sale = await make_sale(buy_ctx, quantity=5, limit=1)
    [(a, _), (b, _), (c, _)] = await make_buyers(buy_ctx, 3)
    # Every purchase finds the terms due for a refresh; a stale copy stays usable the whole test.
    monkeypatch.setattr(buy_ctx.buy_path, "_terms_ttl", 0.0)
    monkeypatch.setattr(buy_path, "TERMS_STALE_SECONDS", 3600.0, raising=False)
    assert (await buying.buy(buy_ctx, a, sale.item_id, 1, "a")).created
    stall = Stall(monkeypatch, orders_repo, "load_terms")
    stall.begin()
    try:
        for buyer in (b, c):
            bought = await asyncio.wait_for(buying.buy(buy_ctx, buyer, sale.item_id, 1, "k"), SAFETY_NET)
            assert bought.created
        assert stall.held == 1  # one refresh in the background, however many purchases
    finally:
        stall.end()
    async with buy_ctx.read() as conn:
        assert await conn.scalar(sa.select(sa.func.count()).select_from(orders)) == 3


async def test_with_no_terms_known_a_stalled_read_is_answered_503_by_the_deadline(
    deadline_ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    sale = await make_sale(deadline_ctx, quantity=5)
    [(buyer, _)] = await make_buyers(deadline_ctx, 1)
    stall = Stall(monkeypatch, orders_repo, "load_terms")
    stall.begin()
    try:
        with pytest.raises(ServiceUnavailable) as refused:
            await asyncio.wait_for(buying.buy(deadline_ctx, buyer, sale.item_id, 1, "k"), SAFETY_NET)
        assert refused.value.code == "service_unavailable" and refused.value.retry_after == 1
    finally:
        stall.end()  # the database answers again: the read left running lands, the retry buys

    async def bought() -> buying.Purchase | None:  # retried as a client does: the deadline is short
        with contextlib.suppress(ServiceUnavailable):
            return await buying.buy(deadline_ctx, buyer, sale.item_id, 1, "k")
        return None

    again = await eventually(bought, within=SAFETY_NET, what="the retry buying")
    assert again.created and stall.held == 1


async def test_a_purchase_is_not_held_by_a_stalled_refresh_of_the_hot_set(
    buy_ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    sale = await make_sale(buy_ctx, quantity=5, limit=1)
    [(a, _)] = await make_buyers(buy_ctx, 1)
    timer = ManualTimer()
    buy_ctx.rooms = WaitingRooms(monotonic=timer)
    assert not await queue.is_hot(buy_ctx, sale.item_id)  # the hot set read once, the database answering
    buy_ctx.rooms.changed(sale.item_id + 1, True)  # a room this process marked: in the set it keeps
    stall = Stall(monkeypatch, rooms_repo, "hot_item_ids")
    stall.begin()
    timer.advance(5.0)  # past the hot set's ttl, within its stale allowance
    try:
        bought = await asyncio.wait_for(buying.buy(buy_ctx, a, sale.item_id, 1, "k"), SAFETY_NET)
        assert bought.created
        assert await asyncio.wait_for(queue.is_hot(buy_ctx, sale.item_id + 1), SAFETY_NET)
        assert stall.held == 1
    finally:
        stall.end()


async def test_with_the_hot_set_too_old_a_stalled_read_is_answered_503_by_the_deadline(
    deadline_ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    sale = await make_sale(deadline_ctx, quantity=5)
    timer = ManualTimer()
    deadline_ctx.rooms = WaitingRooms(monotonic=timer)
    assert not await queue.is_hot(deadline_ctx, sale.item_id)
    stall = Stall(monkeypatch, rooms_repo, "hot_item_ids")
    stall.begin()
    timer.advance(3600.0)  # the set last read an hour ago: not to be served any more
    try:
        with pytest.raises(ServiceUnavailable) as refused:
            await asyncio.wait_for(queue.is_hot(deadline_ctx, sale.item_id), SAFETY_NET)
        assert refused.value.code == "service_unavailable"
    finally:
        stall.end()


def _signed_form(ctx: Context, out_trade_no: str) -> dict[str, str]:
    fields = bench.notification_fields(
        ctx.settings.payment_app_id, out_trade_no, bench.SALE_PRICE_FEN, datetime.now(UTC)
    )
    key = proto.load_private_key(ensure_keys(ctx.settings.data_dir).provider_private)
    return dict(parse_qsl(bench.signed_form(fields, key).decode(), keep_blank_values=True))


async def test_a_notification_not_settled_in_time_is_answered_503_and_its_retry_settles_it_once(
    deadline_ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    prepared = await bench.prepare_payments(deadline_ctx, 1, "stall1")
    [out_trade_no] = prepared.out_trade_nos
    form = _signed_form(deadline_ctx, out_trade_no)
    stall = Stall(monkeypatch, settlement_repo, "lock_payments")
    notify = "/api/v1/payments/alipay/notify"
    async with (
        serving(create_app(ctx=deadline_ctx)) as url,
        httpx.AsyncClient(base_url=url, trust_env=False, timeout=SAFETY_NET) as client,
    ):
        stall.begin()
        try:
            first = await client.post(notify, data=form)
        finally:
            stall.end()  # the database answers: the group left running settles it

        async def acknowledged() -> bool:  # the provider retries until it hears success
            retry = await client.post(notify, data=form)
            assert retry.status_code in (200, 503), retry.text
            return (retry.status_code, retry.text) == (200, "success")

        await eventually(acknowledged, within=SAFETY_NET, what="the retry acknowledged")
    assert first.status_code == 503, first.text
    assert first.json()["code"] == "service_unavailable" and first.headers["retry-after"] == "1"
    async with deadline_ctx.read() as conn:
        status = await conn.scalar(
            sa.select(payments.c.status).where(payments.c.out_trade_no == out_trade_no)
        )
        paid = await conn.scalar(
            sa.select(sa.func.count())
            .select_from(outbox)
            .where(outbox.c.type == "order.paid", outbox.c.subject == f"order:{out_trade_no}")
        )
    assert status == "succeeded" and paid == 1
