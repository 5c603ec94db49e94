"""Orphan reservations (Redis engine): a process killed between reserving in Redis and saving the order
(kill -9, the OOM killer) leaves units and an idempotency key naming an order that will never exist.
The chaos suite's "API killed" case found them held until an operator ran ``reconcile --repair``, and
every retry of such a purchase told to come back later for 24 hours.

Here the kill is the reservation made without the save that follows it (``_reservation`` is the step
``place`` takes before the group commit), and time passing is the entry's score in the item's
``recent`` set moved back: no sleeping."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
import sqlalchemy as sa

from flashport.adapters.db.schema import orders
from flashport.adapters.stock import redis as redis_engine
from flashport.domain.errors import InProgress, ServiceUnavailable
from flashport.domain.orders import SavedPurchase, draft_order
from flashport.services.context import Context
from flashport.services.sales import buying, inventory
from flashport.services.sales.reconcile import reconcile
from tests.sale_builder import make_buyers, make_sale

pytestmark = pytest.mark.redis_cluster


def _redis(ctx: Context) -> redis_engine.RedisStockEngine:
    stock = ctx.stock
    if not isinstance(stock, redis_engine.RedisStockEngine):
        pytest.skip("the SQL engine reserves inside the order's own transaction: it leaves no orphans")
    return stock


async def _orphan(ctx: Context, item_id: int, buyer_id: int, key: str, quantity: int = 1) -> str:
    """Reserve as ``place`` does, then stop, as a killed process would: returns the order id."""
    terms = await ctx.buy_path.terms(item_id, ctx.settings.buy_deadline_seconds)
    assert terms is not None
    draft = draft_order(terms, buyer_id, quantity, key, ctx.clock(), ctx.settings.payment_window)
    status, _ = await _redis(ctx)._reservation(draft)
    assert status == "ok"
    return draft.id


async def _age(stock: redis_engine.RedisStockEngine, item_id: int, order_ids: Sequence[str]) -> None:
    """Move these reservations back in time past the orphan age."""
    recent = stock.key(item_id, "recent")
    for member in await stock.redis.zrange(recent, 0, -1):
        text = member.decode() if isinstance(member, bytes) else member
        if text.split("|", 1)[0] in order_ids:
            await stock.redis.zincrby(recent, -(stock.orphan_after_ms + 1_000), member)


async def _saved_buyers(ctx: Context) -> dict[int, int]:
    async with ctx.read() as conn:
        return dict((await conn.execute(sa.select(orders.c.buyer_id, orders.c.quantity))).all())


async def test_a_retry_of_a_purchase_whose_process_died_buys_afresh_once_the_orphan_is_old_enough(
    buy_ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    stock = _redis(buy_ctx)
    sale = await make_sale(buy_ctx, quantity=1, limit=1)
    [(a, _), (b, _)] = await make_buyers(buy_ctx, 2)
    lost = await _orphan(buy_ctx, sale.item_id, a, "k")
    with pytest.raises(Exception) as sold_out:
        await buying.buy(buy_ctx, b, sale.item_id, 1, "b")
    assert getattr(sold_out.value, "code", None) == "sold_out"  # the orphan holds the unit: never oversold
    # Young: its process may still be saving it, so the retry is asked to come back.
    monkeypatch.setattr(buying, "EXISTING_WAIT_POLLS", 2)
    with pytest.raises(InProgress):
        await buying.buy(buy_ctx, a, sale.item_id, 1, "k")
    assert await stock.remaining([sale.item_id]) == {sale.item_id: 0}

    await _age(stock, sale.item_id, [lost])
    retried = await buying.buy(buy_ctx, a, sale.item_id, 1, "k")
    assert retried.created is True and retried.order["id"] != lost
    assert await _saved_buyers(buy_ctx) == {a: 1}
    counters = await stock.read_counters(sale.item_id)
    assert counters is not None and counters.taken == 1 and counters.per_buyer == {a: 1}
    # The unit went to a's retry, once: b is still refused, and a's key keeps its new order.
    with pytest.raises(Exception) as still_sold_out:
        await buying.buy(buy_ctx, b, sale.item_id, 1, "b")
    assert getattr(still_sold_out.value, "code", None) == "sold_out"
    again = await buying.buy(buy_ctx, a, sale.item_id, 1, "k")
    assert again.created is False and again.order["id"] == retried.order["id"]


async def test_the_sweep_gives_back_old_orphans_only_and_never_a_saved_order(buy_ctx: Context) -> None:
    stock = _redis(buy_ctx)
    sale = await make_sale(buy_ctx, quantity=4, limit=1)
    [(a, _), (b, _), (c, _)] = await make_buyers(buy_ctx, 3)
    saved = (await buying.buy(buy_ctx, a, sale.item_id, 1, "a")).order["id"]
    old = await _orphan(buy_ctx, sale.item_id, b, "b")
    await _orphan(buy_ctx, sale.item_id, c, "c")  # young: its process may still be saving it
    await _age(stock, sale.item_id, [saved, old])

    assert await inventory.settle_orphans(buy_ctx) == 1
    counters = await stock.read_counters(sale.item_id)
    assert counters is not None and counters.taken == 2 and counters.per_buyer == {a: 1, c: 1}
    assert await stock.order_for_key(b, sale.item_id, "b") is None  # b may buy again with that key
    kept = await stock.order_for_key(a, sale.item_id, "a")
    assert isinstance(kept, SavedPurchase) and kept.order_id == saved
    # Looked at once: the saved order and the old orphan have left the set; only the young one is left.
    assert await stock.redis.zcard(stock.key(sale.item_id, "recent")) == 1
    assert await inventory.settle_orphans(buy_ctx) == 0
    assert await stock.remaining([sale.item_id]) == {sale.item_id: 2}
    assert (await buying.buy(buy_ctx, b, sale.item_id, 1, "b")).created is True


async def test_reconcile_leaves_orphans_to_the_sweep_so_no_unit_comes_back_twice(buy_ctx: Context) -> None:
    stock = _redis(buy_ctx)
    sale = await make_sale(buy_ctx, quantity=3, limit=1)
    [(a, _), (b, _)] = await make_buyers(buy_ctx, 2)
    await buying.buy(buy_ctx, a, sale.item_id, 1, "a")
    lost = await _orphan(buy_ctx, sale.item_id, b, "b")

    [report] = await reconcile(buy_ctx, [sale.item_id], repair=True, settle=0)
    assert report.agrees and report.repaired_by is None
    assert (report.truth_taken, report.engine_taken, report.unsaved) == (1, 1, 1)
    await _age(stock, sale.item_id, [lost])
    assert await inventory.settle_orphans(buy_ctx) == 1
    [after] = await reconcile(buy_ctx, [sale.item_id], repair=True, settle=0)
    assert after.agrees and after.unsaved == 0
    counters = await stock.read_counters(sale.item_id)
    assert counters is not None and counters.taken == 1 and counters.per_buyer == {a: 1}


async def test_an_order_that_waited_past_its_commit_deadline_is_not_saved_and_its_unit_comes_back(
    buy_ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bound the sweep stands on: an order is saved within the deadline of its reservation or
    never (here every order has waited too long)."""
    stock = _redis(buy_ctx)
    sale = await make_sale(buy_ctx, quantity=1, limit=1)
    [(a, _)] = await make_buyers(buy_ctx, 1)
    monkeypatch.setattr(stock, "_commit_deadline", -1.0)
    with pytest.raises(ServiceUnavailable) as failed:
        await buying.buy(buy_ctx, a, sale.item_id, 1, "k")
    assert failed.value.code == "order_not_saved"
    assert await _saved_buyers(buy_ctx) == {}
    assert await stock.remaining([sale.item_id]) == {sale.item_id: 1}
    monkeypatch.undo()
    assert (await buying.buy(buy_ctx, a, sale.item_id, 1, "k")).created is True
