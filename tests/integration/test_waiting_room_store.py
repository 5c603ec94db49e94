"""The waiting room's queue stores (adapters/waiting_room): the database on the embedded default, Redis
when configured. Both keep one contract under concurrency: the pre-queue dealt once whatever the number
of callers racing at the start, one place per buyer, later places in order of arrival; and with Redis a
join writes nothing to the database."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import pytest

from flashport.adapters.waiting_room.interface import HELD, JoinAsk
from flashport.domain.accounts import Role
from flashport.domain.waiting_room import RatePolicy
from flashport.services.context import Context
from flashport.services.waiting_room import queue, rooms
from tests.factories import make_user
from tests.sale_builder import make_buyers, make_sale

pytestmark = pytest.mark.redis_cluster

RATES = RatePolicy(start=10, floor=5, ceiling=5000)


async def _hot_room(ctx: Context, starts_in: timedelta) -> tuple[int, datetime]:
    sale = await make_sale(ctx, quantity=100, limit=1, starts_in=starts_in)
    operator, _ = await make_user(ctx, Role.OPERATOR)
    asked = rooms.RoomSettings(opens_before_seconds=3600, admit_per_second=0.001)
    await rooms.mark_hot(ctx, operator, sale.item_id, asked)
    terms = await ctx.buy_path.terms(sale.item_id, ctx.settings.buy_deadline_seconds)
    assert terms is not None
    return sale.item_id, terms.starts_at


async def test_racing_callers_at_the_start_deal_the_pre_queue_once_and_later_places_in_order(
    buy_ctx: Context,
) -> None:
    ctx = buy_ctx
    store = ctx.queue_store
    item_id, starts_at = await _hot_room(ctx, timedelta(minutes=10))
    view = await queue.room_view(ctx, item_id)
    assert view is not None
    early = [b for b, _ in await make_buyers(ctx, 40)]
    before = starts_at - timedelta(seconds=1)
    for n in range(0, 40, 8):  # batches, as the service sends them; one repeat each
        asks = [JoinAsk(b, None) for b in early[n : n + 8]] + [JoinAsk(early[n], None)]
        found = await store.join_batch(item_id, view.terms, starts_at, asks, RATES, None, before)
        assert found == [0] * 8 + [HELD]
    late = [b for b, _ in await make_buyers(ctx, 10)]
    after = starts_at + timedelta(seconds=1)
    # At the start, refreshes and joins race; each late buyer's batch is its own call.
    refreshes = [store.advance(item_id, starts_at, 100, RATES, after) for _ in range(6)]
    joins = [
        store.join_batch(item_id, view.terms, starts_at, [JoinAsk(b, None)], RATES, None, after) for b in late
    ]
    results = await asyncio.gather(*refreshes, *joins)
    late_places = [found[0] for found in results[6:]]  # type: ignore[index]
    early_places = [await store.place_of(item_id, b) for b in early]
    assert sorted(p or 0 for p in early_places) == list(range(1, 41))  # one deal, every place once
    assert early_places != list(range(1, 41))  # shuffled (1 in 40! to be in order by chance)
    assert sorted(late_places) == list(range(41, 51))
    arrivals = await store.arrivals(item_id)
    assert [a.place for a in arrivals if a.in_pre_queue] == early_places
    assert len(arrivals) == 50
    state = await store.state(item_id, after)
    assert (state.queued, state.pre_queue) == (50, 0) and state.cursor is not None
    assert state.cursor.places == 50 and state.shuffled_at is not None


async def test_with_redis_of_two_draws_of_the_same_pre_queue_only_the_first_is_dealt(
    buy_ctx: Context,
) -> None:
    """Two processes that both read the pre-queue before either dealt it: the second draw is refused
    (deal.lua), and a draw made before a join slipped in is refused too (drawn again by its caller)."""
    ctx = buy_ctx
    if not ctx.settings.redis_url:
        pytest.skip("the database store deals on the room's locked row")
    store = ctx.queue_store
    item_id, starts_at = await _hot_room(ctx, timedelta(minutes=10))
    view = await queue.room_view(ctx, item_id)
    assert view is not None
    buyers = [b for b, _ in await make_buyers(ctx, 5)]
    before = starts_at - timedelta(seconds=1)
    await store.join_batch(
        item_id, view.terms, starts_at, [JoinAsk(b, None) for b in buyers[:4]], RATES, None, before
    )
    keys = store._keys(item_id)  # type: ignore[attr-defined]
    deal = store._deal  # type: ignore[attr-defined]
    stale = await deal(keys=keys, args=["1.0", "1", 3, *buyers[:3]])
    assert stale == -1  # drawn from three entries, four are waiting
    first = await deal(keys=keys, args=["1.0", "1", 4, *buyers[:4]])
    second = await deal(keys=keys, args=["1.0", "1", 4, *reversed(buyers[:4])])
    assert (first, second) == (1, 0)
    assert [await store.place_of(item_id, b) for b in buyers[:4]] == [1, 2, 3, 4]  # the first draw
