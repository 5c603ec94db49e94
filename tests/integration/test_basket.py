"""The basket (issue 18, point 1): each unit reserved when it goes in, held for one window from the first
add, one warehouse, within the single-transaction limit; removal and expiry return units exactly once.
On SQLite and PostgreSQL, with the SQL and the Redis stock engine (``buy_ctx``)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
import sqlalchemy as sa

from flashport.adapters.db.schema import orders, sale_items
from flashport.domain.errors import Conflict, InvalidInput
from flashport.services.context import Context
from flashport.services.orders import basket
from flashport.services.orders import lifecycle as order_service
from flashport.services.sales import buying
from tests.sale_builder import Sale, make_buyers, make_sale


@pytest.fixture
def bctx(buy_ctx: Context) -> Context:
    """``buy_ctx`` with its clock stopped: time moves only when a test says so (``later``)."""
    stopped = buy_ctx.clock()
    buy_ctx.clock = lambda: stopped
    return buy_ctx


def later(ctx: Context, minutes: float) -> None:
    base = ctx.clock
    ctx.clock = lambda: base() + timedelta(minutes=minutes)


async def _same_warehouse(ctx: Context, first: Sale, other: Sale) -> None:
    """Move ``other``'s goods to ``first``'s warehouse (the builder gives each sale its own)."""
    async with ctx.transaction() as tx:
        warehouse = sa.select(sale_items.c.warehouse_id).where(sale_items.c.id == first.item_id)
        await tx.conn.execute(
            sale_items.update()
            .where(sale_items.c.id == other.item_id)
            .values(warehouse_id=warehouse.scalar_subquery())
        )


async def _deadlines(ctx: Context, buyer: int) -> set[object]:
    async with ctx.read() as conn:
        rows = await conn.scalars(sa.select(orders.c.payment_deadline).where(orders.c.buyer_id == buyer))
        return set(rows.all())


async def _taken(ctx: Context, item_id: int) -> tuple[int, dict[int, int]]:
    counters = await ctx.stock.read_counters(item_id)
    assert counters is not None
    return counters.taken, dict(counters.per_buyer)


async def test_a_unit_is_reserved_when_it_goes_in_and_held_for_the_window_from_the_first_add(
    bctx: Context,
) -> None:
    milk = await make_sale(bctx, quantity=5, limit=2)
    cream = await make_sale(bctx, quantity=5, limit=2)
    await _same_warehouse(bctx, milk, cream)
    [(buyer, _)] = await make_buyers(bctx, 1)
    start = bctx.clock()
    first = await basket.add(bctx, buyer, milk.item_id, "a1")
    assert first.created and first.basket.seconds_left == 20 * 60
    assert await bctx.stock.remaining([milk.item_id]) == {milk.item_id: 4}
    later(bctx, 7)
    second = await basket.add(bctx, buyer, cream.item_id, "a2")
    assert [u.sale_item_id for u in second.basket.units] == [milk.item_id, cream.item_id]
    assert second.basket.goods_fen == 2 * 9900
    assert second.basket.seconds_left == 13 * 60
    assert await _deadlines(bctx, buyer) == {first.basket.hold_until}
    assert first.basket.hold_until is not None and first.basket.hold_until - start == timedelta(minutes=20)
    assert await bctx.stock.remaining([cream.item_id]) == {cream.item_id: 4}


async def test_a_retried_add_with_the_same_key_reserves_nothing_more(bctx: Context) -> None:
    milk = await make_sale(bctx, quantity=5, limit=3)
    [(buyer, _)] = await make_buyers(bctx, 1)
    first = await basket.add(bctx, buyer, milk.item_id, "same")
    again = await basket.add(bctx, buyer, milk.item_id, "same")
    assert not again.created and again.order_no == first.order_no and len(again.basket.units) == 1
    assert await _taken(bctx, milk.item_id) == (1, {buyer: 1})
    other = await make_sale(bctx, quantity=5, limit=3)
    with pytest.raises(InvalidInput) as refused:
        await basket.add(bctx, buyer, other.item_id, "same")
    assert refused.value.code == "idempotency_key_reused"


async def test_removing_a_unit_returns_it_to_the_sale_once(bctx: Context) -> None:
    milk = await make_sale(bctx, quantity=3, limit=2)
    [(buyer, _)] = await make_buyers(bctx, 1)
    added = await basket.add(bctx, buyer, milk.item_id, "r1")
    await basket.add(bctx, buyer, milk.item_id, "r2")
    left = await basket.remove(bctx, buyer, added.order_no)
    assert len(left.units) == 1 and left.goods_fen == 9900
    assert await _taken(bctx, milk.item_id) == (1, {buyer: 1})
    with pytest.raises(Conflict) as twice:
        await basket.remove(bctx, buyer, added.order_no)
    assert twice.value.code == "order_not_cancellable"
    assert await _taken(bctx, milk.item_id) == (1, {buyer: 1})


async def test_an_item_from_another_warehouse_is_refused_with_a_clear_error(bctx: Context) -> None:
    milk = await make_sale(bctx, quantity=3, limit=2)
    abroad = await make_sale(bctx, quantity=3, limit=2, overseas=True)
    [(buyer, _)] = await make_buyers(bctx, 1)
    await basket.add(bctx, buyer, milk.item_id, "w1")
    with pytest.raises(Conflict) as refused:
        await basket.add(bctx, buyer, abroad.item_id, "w2")
    assert refused.value.code == "basket_other_warehouse"
    assert await bctx.stock.remaining([abroad.item_id]) == {abroad.item_id: 3}
    assert len((await basket.view(bctx, buyer)).units) == 1


async def test_the_basket_stays_within_the_single_transaction_limit(bctx: Context) -> None:
    bag = await make_sale(bctx, quantity=5, limit=5, price_fen=200_000, original_fen=600_000)
    [(buyer, _)] = await make_buyers(bctx, 1)
    await basket.add(bctx, buyer, bag.item_id, "l1")
    await basket.add(bctx, buyer, bag.item_id, "l2")  # 4,000 CNY
    with pytest.raises(Conflict) as refused:
        await basket.add(bctx, buyer, bag.item_id, "l3")  # 6,000 CNY
    assert refused.value.code == "single_transaction_limit"
    assert await _taken(bctx, bag.item_id) == (2, {buyer: 2})
    assert (await basket.view(bctx, buyer)).goods_fen == 400_000


async def test_when_the_hold_ends_every_unit_goes_back_and_the_next_add_opens_a_new_window(
    bctx: Context,
) -> None:
    milk = await make_sale(bctx, quantity=4, limit=3)
    cream = await make_sale(bctx, quantity=4, limit=3)
    await _same_warehouse(bctx, milk, cream)
    [(buyer, _)] = await make_buyers(bctx, 1)
    await basket.add(bctx, buyer, milk.item_id, "e1")
    later(bctx, 10)
    await basket.add(bctx, buyer, milk.item_id, "e2")
    await basket.add(bctx, buyer, cream.item_id, "e3")
    later(bctx, 9.9)
    assert await order_service.expire_unpaid_orders(bctx) == 0
    later(bctx, 0.2)  # 20 minutes and 6 seconds after the first add
    assert await order_service.expire_unpaid_orders(bctx) == 3
    assert await order_service.expire_unpaid_orders(bctx) == 0
    assert await bctx.stock.remaining([milk.item_id, cream.item_id]) == {milk.item_id: 4, cream.item_id: 4}
    assert await _taken(bctx, milk.item_id) == (0, {})
    empty = await basket.view(bctx, buyer)
    assert empty.units == [] and empty.seconds_left is None
    fresh = await basket.add(bctx, buyer, cream.item_id, "e4")
    assert fresh.basket.seconds_left == 20 * 60 and len(fresh.basket.units) == 1


async def test_the_per_buyer_limit_counts_basket_units_and_direct_purchases_together(bctx: Context) -> None:
    milk = await make_sale(bctx, quantity=9, limit=2)
    [(buyer, _)] = await make_buyers(bctx, 1)
    await buying.buy(bctx, buyer, milk.item_id, 1, "direct")
    await basket.add(bctx, buyer, milk.item_id, "b1")
    with pytest.raises(Conflict) as refused:
        await basket.add(bctx, buyer, milk.item_id, "b2")
    assert refused.value.code == "buyer_limit_reached"
    assert await _taken(bctx, milk.item_id) == (2, {buyer: 2})
    assert len((await basket.view(bctx, buyer)).units) == 1


async def _attempts(calls: list[object]) -> tuple[int, list[str]]:
    results = await asyncio.gather(*calls, return_exceptions=True)  # type: ignore[arg-type]
    codes = [getattr(r, "code", type(r).__name__) for r in results if isinstance(r, Exception)]
    return sum(1 for r in results if isinstance(r, basket.BasketAdd) and r.created), codes


async def test_many_buyers_racing_for_the_last_units_never_get_a_unit_twice(bctx: Context) -> None:
    milk = await make_sale(bctx, quantity=12, limit=2)
    buyers = await make_buyers(bctx, 30)
    added, codes = await _attempts(
        [basket.add(bctx, b, milk.item_id, f"k{n}-{i}") for n, (b, _) in enumerate(buyers) for i in range(2)]
    )
    assert added == 12 and set(codes) == {"sold_out"} and len(codes) == 48
    taken, per_buyer = await _taken(bctx, milk.item_id)
    assert taken == 12 and sum(per_buyer.values()) == 12 and max(per_buyer.values()) <= 2
    async with bctx.read() as conn:
        live = await conn.scalar(
            sa.select(sa.func.count()).where(
                orders.c.sale_item_id == milk.item_id, orders.c.status == "pending_payment"
            )
        )
    assert live == 12


async def test_one_buyers_racing_adds_respect_the_limit_the_warehouse_and_the_single_limit(
    bctx: Context,
) -> None:
    milk = await make_sale(bctx, quantity=50, limit=3, price_fen=150_000, original_fen=450_000)
    cream = await make_sale(bctx, quantity=50, limit=3, price_fen=150_000, original_fen=450_000)
    abroad = await make_sale(bctx, quantity=50, limit=3, overseas=True)
    await _same_warehouse(bctx, milk, cream)
    [(buyer, _)] = await make_buyers(bctx, 1)
    calls = [
        basket.add(bctx, buyer, item, f"{item}-{i}")
        for i in range(6)
        for item in (milk.item_id, abroad.item_id)
    ]
    calls += [basket.add(bctx, buyer, cream.item_id, f"c-{i}") for i in range(6)]
    added, codes = await _attempts(calls)
    held = await basket.view(bctx, buyer)
    assert len(held.units) == added and held.goods_fen <= 500_000
    assert len({u.sale_item_id for u in held.units} & {abroad.item_id}) == 0 or all(
        u.sale_item_id == abroad.item_id for u in held.units
    )
    assert set(codes) <= {"buyer_limit_reached", "basket_other_warehouse", "single_transaction_limit"}
    for sale in (milk, cream, abroad):
        taken, per_buyer = await _taken(bctx, sale.item_id)
        in_basket = sum(1 for u in held.units if u.sale_item_id == sale.item_id)
        assert taken == in_basket == per_buyer.get(buyer, 0) and taken <= 3


async def test_concurrent_retries_of_one_add_hold_one_unit(bctx: Context) -> None:
    milk = await make_sale(bctx, quantity=10, limit=5)
    [(buyer, _)] = await make_buyers(bctx, 1)
    answers = await asyncio.gather(*[basket.add(bctx, buyer, milk.item_id, "one-key") for _ in range(6)])
    assert sum(a.created for a in answers) == 1 and len({a.order_no for a in answers}) == 1
    assert await _taken(bctx, milk.item_id) == (1, {buyer: 1})
    held = await basket.view(bctx, buyer)
    assert len(held.units) == 1 and held.goods_fen == 9900
