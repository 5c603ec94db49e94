"""Redis lost an item while orders of it were being written (flushed, restarted empty, a failover that
lost the last writes): the engine rebuilds the item from the database, and an order committed after the
rebuild's snapshot must still be counted, or rule 1 (no oversell) and rule 2 (the per-buyer limit) break
and its expiry pushes "taken" below the truth. The chaos suite's "redis lost (flushed)" case found it:
reconcile reported "taken" one below the database after the sale's last orders had expired."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from flashport.adapters.db import orders_repo
from flashport.adapters.db.schema import orders
from flashport.adapters.stock.redis import RedisStockEngine
from flashport.bootstrap import build_context, close_context
from flashport.domain.errors import Conflict
from flashport.services.context import Context
from flashport.services.orders.lifecycle import expire_unpaid_orders
from flashport.services.sales import buying
from flashport.services.sales.reconcile import reconcile
from tests.sale_builder import make_buyers, make_sale

WITHIN = 60.0  # a safety net, not a timing check


def _redis_engine(ctx: Context) -> RedisStockEngine:
    if not isinstance(ctx.stock, RedisStockEngine):
        pytest.skip("the SQL engine reserves inside the order's own transaction: nothing to lose")
    return ctx.stock


class HeldWrite:
    """Holds the first group commit's write until let go: the order is reserved in Redis, not yet in
    the database."""

    def __init__(self, stock: RedisStockEngine, monkeypatch: pytest.MonkeyPatch) -> None:
        self.entered = asyncio.Event()
        self.go = asyncio.Event()
        self._held = False
        target: Any = stock._writer if stock._writer is not None else orders_repo
        name = "write" if stock._writer is not None else "insert_drafts"
        real: Callable[..., Awaitable[None]] = getattr(target, name)

        async def held(*args: Any) -> None:
            if not self._held:
                self._held = True
                self.entered.set()
                await self.go.wait()
            await real(*args)

        monkeypatch.setattr(target, name, held)


async def _lose_item(stock: RedisStockEngine, item_id: int) -> None:
    lost = [k async for k in stock.redis.scan_iter(match=f"{stock.prefix}:*item:{item_id}*")]
    assert lost
    await stock.redis.delete(*lost)


async def _expire(ctx: Context, buyer_ids: Sequence[int]) -> int:
    async with ctx.transaction() as tx:
        await tx.conn.execute(
            sa.update(orders)
            .where(orders.c.buyer_id.in_(buyer_ids))
            .values(payment_deadline=ctx.clock() - timedelta(seconds=1))
        )
    return await expire_unpaid_orders(ctx)


async def test_an_order_committed_after_the_rebuild_read_the_database_is_counted_once_saved(
    buy_ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    stock = _redis_engine(buy_ctx)
    sale = await make_sale(buy_ctx, quantity=3, limit=1)
    (a, _), (b, _) = await make_buyers(buy_ctx, 2)
    hold = HeldWrite(stock, monkeypatch)
    buying_a = asyncio.create_task(buying.buy(buy_ctx, a, sale.item_id, 1, "a"))
    await asyncio.wait_for(hold.entered.wait(), WITHIN)  # reserved, its order not written yet
    await _lose_item(stock, sale.item_id)
    assert await stock._rebuilt(sale.item_id)  # from a database that has no order of a's yet
    assert (await stock.read_counters(sale.item_id)).taken == 0  # type: ignore[union-attr]

    hold.go.set()
    assert (await asyncio.wait_for(buying_a, WITHIN)).created
    counters = await stock.read_counters(sale.item_id)
    assert counters is not None and (counters.taken, dict(counters.per_buyer)) == (1, {a: 1})
    with pytest.raises(Conflict) as refused:  # rule 2 holds: a's one unit is counted
        await buying.buy(buy_ctx, a, sale.item_id, 1, "a-again")
    assert refused.value.code == "buyer_limit_reached"
    again = await buying.buy(buy_ctx, a, sale.item_id, 1, "a")  # the retry: from its key, restored
    assert again.created is False
    assert (await buying.buy(buy_ctx, b, sale.item_id, 1, "b")).created
    assert await stock.remaining([sale.item_id]) == {sale.item_id: 1}

    assert await _expire(buy_ctx, [a, b]) == 2  # both units back, exactly to the truth (not below)
    counters = await stock.read_counters(sale.item_id)
    assert counters is not None and (counters.taken, dict(counters.per_buyer)) == (0, {})
    [report] = await reconcile(buy_ctx)
    assert report.agrees, report


async def test_an_order_saved_while_the_item_is_being_rebuilt_is_counted_when_the_rebuild_ends(
    buy_ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The narrow case: the rebuild has read the database (without the order) but not yet written the
    item, and the order is committed and noted meanwhile. It waits on the item's late list."""
    stock = _redis_engine(buy_ctx)
    sale = await make_sale(buy_ctx, quantity=3, limit=1)
    [(a, _)] = await make_buyers(buy_ctx, 1)
    hold = HeldWrite(stock, monkeypatch)
    buying_a = asyncio.create_task(buying.buy(buy_ctx, a, sale.item_id, 1, "a"))
    await asyncio.wait_for(hold.entered.wait(), WITHIN)
    await _lose_item(stock, sale.item_id)
    real_init = stock._init
    late_seen: list[int] = []

    async def init_after_the_order_is_saved(**kwargs: Any) -> Any:
        if not hold.go.is_set():  # the snapshot is read; the counters are not written yet
            hold.go.set()
            assert (await asyncio.wait_for(buying_a, WITHIN)).created
            late_seen.append(await stock.redis.llen(stock.key(sale.item_id, "late")))  # type: ignore[misc]
        return await real_init(**kwargs)

    monkeypatch.setattr(stock, "_init", init_after_the_order_is_saved)
    assert await stock._rebuilt(sale.item_id)
    assert late_seen == [1]
    counters = await stock.read_counters(sale.item_id)
    assert counters is not None and (counters.taken, dict(counters.per_buyer)) == (1, {a: 1})
    assert not await stock.redis.exists(
        stock.key(sale.item_id, "late"), stock.key(sale.item_id, "rebuilding")
    )
    again = await buying.buy(buy_ctx, a, sale.item_id, 1, "a")
    assert again.created is False and again.order["id"] == (await buying_a).order["id"]
    [report] = await reconcile(buy_ctx)
    assert report.agrees, report


async def test_two_processes_noticing_the_loss_at_once_rebuild_the_item_once(buy_ctx: Context) -> None:
    """Each API process rebuilds an item it finds missing; two at once would each restore the keys of
    their own snapshot, and an order committed between them would get its key back uncounted. The
    item's rebuild lock in Redis lets one rebuild and the other wait for its terms."""
    stock = _redis_engine(buy_ctx)
    sale = await make_sale(buy_ctx, quantity=3, limit=1)
    (a, _), (b, _) = await make_buyers(buy_ctx, 2)
    await buying.buy(buy_ctx, a, sale.item_id, 1, "a")
    other = await build_context(buy_ctx.settings)  # a second API process, the same Redis and prefix
    try:
        other_stock = _redis_engine(other)
        assert other_stock.prefix == stock.prefix
        await _lose_item(stock, sale.item_id)
        first, second = await asyncio.gather(stock._rebuilt(sale.item_id), other_stock._rebuilt(sale.item_id))
        assert first and second
        assert stock.rebuilds + other_stock.rebuilds == 1
        assert (await buying.buy(other, b, sale.item_id, 1, "b")).created
    finally:
        await close_context(other)
    counters = await stock.read_counters(sale.item_id)
    assert counters is not None and (counters.taken, dict(counters.per_buyer)) == (2, {a: 1, b: 1})
