"""The buy path's deadline (``FLASHPORT_BUY_DEADLINE_SECONDS``): a purchase the Redis engine has not
decided in time is answered 503 ``purchase_pending`` with ``Retry-After`` instead of leaving its buyer
waiting, and it goes on without its caller, so the retry with the same key gets that one order; the SQL
engine, whose placement cannot be left half-way, is waited for."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from flashport.adapters.db import orders_repo
from flashport.adapters.db.schema import orders
from flashport.adapters.stock.redis import RedisStockEngine
from flashport.app import create_app
from flashport.bootstrap import build_context, close_context
from flashport.domain.errors import ServiceUnavailable
from flashport.services.context import Context
from flashport.services.sales import buying
from flashport.services.waiting_room import queue
from tests.factories import auth
from tests.sale_builder import make_buyers, make_sale
from tests.servers import serving
from tests.waiting import eventually

# Far shorter than a reservation and a group commit take: the deadline always strikes first.
TOO_SHORT = 0.0001


async def test_a_purchase_undecided_by_its_deadline_is_answered_503_and_its_retry_gets_its_one_order(
    buy_ctx: Context,
) -> None:
    sale = await make_sale(buy_ctx, quantity=5)
    [(buyer_id, token)] = await make_buyers(buy_ctx, 1)
    # The hot set and the terms in memory, as on a live sale: the deadline below is for the placement,
    # not for their first reads (which it bounds too: test_stalled_reads.py).
    await queue.is_hot(buy_ctx, sale.item_id)
    await buy_ctx.buy_path.terms(sale.item_id, buy_ctx.settings.buy_deadline_seconds)
    normal = buy_ctx.settings
    buy_ctx.settings = normal.model_copy(update={"buy_deadline_seconds": TOO_SHORT})
    headers = auth(token) | {"Idempotency-Key": "deadline-1"}
    path = f"/api/v1/sale-items/{sale.item_id}/buy"
    async with (
        serving(create_app(ctx=buy_ctx, fast_lane=True)) as url,
        httpx.AsyncClient(base_url=url, trust_env=False) as client,
    ):
        first = await client.post(path, json={"quantity": 1}, headers=headers)
        buy_ctx.settings = normal

        async def answered() -> httpx.Response | None:
            retry = await client.post(path, json={"quantity": 1}, headers=headers)
            return retry if retry.status_code in (200, 201) else None

        retry = await eventually(answered, within=30, what="the retry answered with its order")
    if buy_ctx.stock.name == "redis":  # abandons_safely
        assert first.status_code == 503, first.text
        assert first.json()["code"] == "purchase_pending"
        assert first.headers["retry-after"] == "1"
    else:
        assert first.status_code == 201 and retry.json()["id"] == first.json()["id"]
    async with buy_ctx.read() as conn:
        made = (await conn.scalars(sa.select(orders.c.id).where(orders.c.buyer_id == buyer_id))).all()
    assert [str(o) for o in made] == [str(retry.json()["id"])]  # one order, the one the retry named
    counters = await buy_ctx.stock.read_counters(sale.item_id)
    assert counters is not None and counters.taken == 1 and dict(counters.per_buyer) == {buyer_id: 1}


async def test_a_retry_whose_order_must_be_read_from_a_stalled_database_is_answered_503_in_time(
    buy_ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A retry that finds only its earlier order's id (the order saved, its answer not yet written to the
    key: the state while a commit is being saved) reads that order from the database; with the database
    stalled, it is answered 503 ``purchase_pending`` by the deadline instead of waiting (the chaos case
    "PostgreSQL stalled" saw such retries go unanswered), and once the database answers again the
    retry gets its one order."""
    if buy_ctx.stock.name != "redis":
        pytest.skip("the SQL engine keeps no answers outside the database")
    sale = await make_sale(buy_ctx, quantity=5)
    [(buyer_id, _)] = await make_buyers(buy_ctx, 1)
    first = await buying.buy(buy_ctx, buyer_id, sale.item_id, 1, "stalled-1")
    assert first.created
    stock = buy_ctx.stock
    assert isinstance(stock, RedisStockEngine)
    await stock.redis.set(stock.key(sale.item_id, f"idem:{buyer_id}:stalled-1"), str(first.order["id"]))
    # Another process: nothing of this purchase in its memory.
    other = await build_context(
        buy_ctx.settings.model_copy(update={"buy_deadline_seconds": 0.2}), listen_for_restock=False
    )
    stalled = asyncio.Event()
    real_load = orders_repo.load_order

    async def load_when_the_database_answers(conn: Any, order_id: str) -> Any:
        await stalled.wait()
        return await real_load(conn, order_id)

    monkeypatch.setattr(orders_repo, "load_order", load_when_the_database_answers)
    try:
        with pytest.raises(ServiceUnavailable) as answered:
            await asyncio.wait_for(buying.buy(other, buyer_id, sale.item_id, 1, "stalled-1"), 60)
        assert answered.value.code == "purchase_pending" and answered.value.retry_after == 1
        stalled.set()  # the database answers again
        # ...and the retry is given all the time it needs (a loaded machine may take 0.2 s to place it)
        other.settings = other.settings.model_copy(update={"buy_deadline_seconds": 60})
        again = await buying.buy(other, buyer_id, sale.item_id, 1, "stalled-1")
    finally:
        stalled.set()
        await close_context(other)
    assert not again.created and again.order["id"] == first.order["id"]
    async with buy_ctx.read() as conn:
        made = (await conn.scalars(sa.select(orders.c.id).where(orders.c.buyer_id == buyer_id))).all()
    assert len(made) == 1


class ReadsTakeTime:
    """The purchase's clock (``buying._now``) under the test's hand: each read of the item's terms
    moves it ``seconds`` on, as a read of a stalled database would, without the test waiting."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, seconds: float) -> None:
        self.now = 1000.0
        self.placed_within: list[float] = []
        load_terms = orders_repo.load_terms
        placed_in_time = buying._placed_in_time

        async def slow_load_terms(*args: Any) -> Any:
            self.now += seconds
            return await load_terms(*args)

        async def spied(stock: Any, draft: Any, within: float) -> Any:
            self.placed_within.append(within)
            return await placed_in_time(stock, draft, within)

        monkeypatch.setattr(buying, "_now", lambda: self.now)
        monkeypatch.setattr(orders_repo, "load_terms", slow_load_terms)
        monkeypatch.setattr(buying, "_placed_in_time", spied)


async def test_a_purchase_whose_terms_read_took_time_has_only_the_rest_of_its_deadline_to_be_placed(
    buy_ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One deadline for the whole purchase: a purchase that waited for its terms (the database slow or
    stalled) is not given the whole deadline again for its placement, so it is answered within the
    deadline, not within two."""
    sale = await make_sale(buy_ctx, quantity=5)
    [(buyer_id, _)] = await make_buyers(buy_ctx, 1)
    await queue.is_hot(buy_ctx, sale.item_id)  # the hot set in memory; the terms are read afresh
    deadline = buy_ctx.settings.buy_deadline_seconds
    clock = ReadsTakeTime(monkeypatch, 0.75 * deadline)
    bought = await buying.buy(buy_ctx, buyer_id, sale.item_id, 1, "shared-deadline")
    assert bought.created
    assert clock.placed_within == [pytest.approx(0.25 * deadline)]
