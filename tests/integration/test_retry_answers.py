"""Retries that cost nothing (issue 19, point 5): a retry with the same Idempotency-Key gets the first
answer again, the same status and the same body (the Idempotency-Key draft standard), whatever became
of the order since; with Redis it is answered without reading the database, in any process."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import httpx
import orjson
import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from flashport.adapters.stock import redis as redis_engine
from flashport.app import create_app
from flashport.domain.errors import Conflict
from flashport.domain.orders import SavedPurchase
from flashport.services.context import Context
from flashport.services.orders import lifecycle
from flashport.services.sales import buying
from tests.sale_builder import make_buyers, make_sale

pytestmark = pytest.mark.redis_cluster


def _another_process(ctx: Context) -> None:
    """This process forgets the answers it gave, as another API process never knew them."""
    ctx.buy_path._answers.clear()


async def test_a_retry_gets_the_first_answer_again_after_the_order_moved_on(buy_ctx: Context) -> None:
    sale = await make_sale(buy_ctx, quantity=3, limit=1)
    [(buyer, token)] = await make_buyers(buy_ctx, 1)
    app = create_app(ctx=buy_ctx, fast_lane=True)
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": "k"}
    url = f"/api/v1/sale-items/{sale.item_id}/buy"
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
        first = await http.post(url, json={"quantity": 1}, headers=headers)
        assert first.status_code == 201 and "idempotent-replayed" not in first.headers
        await lifecycle.cancel_by_buyer(buy_ctx, buyer, first.json()["order_no"])
        for forget in (False, True):  # from this process's memory, then as another process would
            if forget:
                _another_process(buy_ctx)
            again = await http.post(url, json={"quantity": 1}, headers=headers)
            assert (again.status_code, again.content) == (201, first.content)
            assert again.headers["idempotent-replayed"] == "true"
    assert first.json()["status"] == "pending_payment"  # as it was, though it is cancelled now


async def test_with_redis_a_retry_in_another_process_is_answered_without_the_database(
    buy_ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    stock = buy_ctx.stock
    if not isinstance(stock, redis_engine.RedisStockEngine):
        pytest.skip("the SQL engine keeps its idempotency keys in the database itself")
    sale = await make_sale(buy_ctx, quantity=3, limit=1)
    [(a, _), (b, _)] = await make_buyers(buy_ctx, 2)
    first = await buying.buy(buy_ctx, a, sale.item_id, 1, "k")
    saved = await stock.order_for_key(a, sale.item_id, "k")
    assert isinstance(saved, SavedPurchase)  # the key holds the saved purchase, not a bare order id
    assert saved.order_id == first.order["id"] and saved.order_no == first.order["order_no"]
    _another_process(buy_ctx)
    monkeypatch.setattr(buy_ctx.buy_path, "_terms_ttl", 3600.0)
    await buy_ctx.buy_path.terms(sale.item_id, 60.0)  # the item's terms in memory, as on a live sale

    @contextlib.asynccontextmanager
    async def no_database() -> AsyncIterator[None]:
        raise AssertionError("a retry read the database")
        yield

    monkeypatch.setattr(buy_ctx, "read", no_database)
    again = await buying.buy(buy_ctx, a, sale.item_id, 1, "k")
    assert again.created is False and _json(again.order) == _json(first.order)
    # A new purchase still goes the whole way (the database only writes it).
    monkeypatch.undo()
    assert (await buying.buy(buy_ctx, b, sale.item_id, 1, "k")).created is True


def _json(order: dict[str, object]) -> bytes:
    return orjson.dumps(order, option=orjson.OPT_UTC_Z)


async def test_with_redis_the_refused_buyers_of_a_sold_out_item_cost_one_look_up_together(
    buy_ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past the last unit each buyer's key is still looked up (a retry whose answer was lost gets its
    order, rule 7), but the buyers arriving together share one round trip to Redis; a retry among them
    gets its own order, the others 409 ``sold_out``."""
    stock = buy_ctx.stock
    if not isinstance(stock, redis_engine.RedisStockEngine):
        pytest.skip("the SQL engine looks keys up in the database")
    sale = await make_sale(buy_ctx, quantity=1, limit=1)
    buyers = await make_buyers(buy_ctx, 21)
    (first, _), late = buyers[0], buyers[1:]
    bought = await buying.buy(buy_ctx, first, sale.item_id, 1, "k")
    assert buy_ctx.buy_path.board.is_sold_out(sale.item_id)
    _another_process(buy_ctx)  # the retry below must find its order through the key, not in memory
    calls = stock.lookup_calls

    async def attempt(buyer: int) -> str:
        try:
            return (await buying.buy(buy_ctx, buyer, sale.item_id, 1, "k")).order["id"]
        except Conflict as exc:
            return exc.code

    answers = await asyncio.gather(attempt(first), *(attempt(buyer) for buyer, _ in late))
    assert answers == [bought.order["id"]] + ["sold_out"] * len(late)
    assert stock.lookup_calls == calls + 1

    # Redis gone: each waiting buyer is told so (503), none is left waiting or told "sold out".
    async def broken(names: object) -> object:
        raise RedisConnectionError("gone")

    monkeypatch.setattr(stock.redis, "mget", broken)
    outcomes = await asyncio.gather(
        *(buying.buy(buy_ctx, buyer, sale.item_id, 1, "k") for buyer, _ in late[:3]),
        return_exceptions=True,
    )
    assert [getattr(o, "code", o) for o in outcomes] == ["stock_engine_unavailable"] * 3
