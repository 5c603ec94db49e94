"""Rule 5: unpaid orders expire exactly once and their units return exactly once, under races."""

from __future__ import annotations

import asyncio
import functools
from datetime import timedelta

import pytest
import sqlalchemy as sa

from flashport.adapters.db.schema import orders, outbox
from flashport.bootstrap import build_context, close_context
from flashport.services.context import Context
from flashport.services.orders import lifecycle as order_service
from flashport.services.sales import buying
from flashport.worker import run_forever, run_once
from tests.sale_builder import make_buyers, make_sale

pytestmark = pytest.mark.redis_cluster  # expiry's releases and the restock news, on a cluster too


def later(ctx: Context, minutes: float) -> None:
    """Move this context's clock forward."""
    base = ctx.clock
    ctx.clock = lambda: base() + timedelta(minutes=minutes)


async def _outbox_types(ctx: Context, subject: str) -> list[str]:
    async with ctx.read() as conn:
        return list(
            (
                await conn.scalars(
                    sa.select(outbox.c.type).where(outbox.c.subject == subject).order_by(outbox.c.id)
                )
            ).all()
        )


async def test_an_unpaid_order_expires_after_its_deadline_and_returns_its_units_once(
    buy_ctx: Context,
) -> None:
    sale = await make_sale(buy_ctx, quantity=3, limit=3)
    [(buyer, _)] = await make_buyers(buy_ctx, 1)
    order = (await buying.buy(buy_ctx, buyer, sale.item_id, 2, "k")).order
    assert await order_service.expire_unpaid_orders(buy_ctx) == 0  # not yet: 20 minutes to pay
    later(buy_ctx, 19.9)
    assert await order_service.expire_unpaid_orders(buy_ctx) == 0
    later(buy_ctx, 0.2)
    assert await order_service.expire_unpaid_orders(buy_ctx) == 1
    assert await order_service.expire_unpaid_orders(buy_ctx) == 0
    assert (await buy_ctx.stock.remaining([sale.item_id])) == {sale.item_id: 3}
    counters = await buy_ctx.stock.read_counters(sale.item_id)
    assert counters is not None and counters.taken == 0 and not counters.per_buyer
    assert await _outbox_types(buy_ctx, f"order:{order['order_no']}") == ["order.created", "order.expired"]


async def test_two_racing_sweepers_expire_each_order_once(buy_ctx: Context) -> None:
    sale = await make_sale(buy_ctx, quantity=40, limit=1)
    buyers = await make_buyers(buy_ctx, 40)
    for n, (buyer, _) in enumerate(buyers):
        await buying.buy(buy_ctx, buyer, sale.item_id, 1, f"k{n}")
    other = await build_context(buy_ctx.settings, listen_for_restock=False)  # a second worker process
    try:
        later(buy_ctx, 21)
        later(other, 21)
        counts = await asyncio.gather(
            order_service.expire_unpaid_orders(buy_ctx),
            order_service.expire_unpaid_orders(other),
            order_service.expire_unpaid_orders(buy_ctx),
        )
    finally:
        await close_context(other)
    assert sum(counts) == 40
    assert (await buy_ctx.stock.remaining([sale.item_id])) == {sale.item_id: 40}
    async with buy_ctx.read() as conn:
        expired_events = await conn.scalar(
            sa.select(sa.func.count()).select_from(outbox).where(outbox.c.type == "order.expired")
        )
    assert expired_events == 40


async def test_a_sweep_expires_orders_of_several_items_in_batches_and_returns_each_unit_once(
    buy_ctx: Context,
) -> None:
    first = await make_sale(buy_ctx, quantity=30, limit=2)
    second = await make_sale(buy_ctx, quantity=30, limit=2)
    buyers = await make_buyers(buy_ctx, 12)
    placed = []
    for n, (buyer, _) in enumerate(buyers):  # each buyer holds 2 units of one item, 1 of the other
        two, one = (first, second) if n % 2 else (second, first)
        placed.append(await buying.buy(buy_ctx, buyer, two.item_id, 2, f"a{n}"))
        placed.append(await buying.buy(buy_ctx, buyer, one.item_id, 1, f"b{n}"))
    assert await buy_ctx.stock.remaining([first.item_id, second.item_id]) == {  # type: ignore[union-attr]
        first.item_id: 12,
        second.item_id: 12,
    }
    later(buy_ctx, 21)
    assert await order_service.expire_unpaid_orders(buy_ctx, batch=5, max_batches=3) == 15  # bounded pass
    assert await order_service.expire_unpaid_orders(buy_ctx, batch=5) == 9  # the rest, five at a time
    assert await order_service.expire_unpaid_orders(buy_ctx, batch=5) == 0
    stock = buy_ctx.stock
    assert stock is not None
    assert await stock.remaining([first.item_id, second.item_id]) == {first.item_id: 30, second.item_id: 30}
    for sale in (first, second):
        counters = await stock.read_counters(sale.item_id)
        assert counters is not None and counters.taken == 0 and not counters.per_buyer
    async with buy_ctx.read() as conn:
        rows = (await conn.execute(sa.select(orders.c.status, orders.c.stock_released_at))).all()
        events = (
            await conn.execute(
                sa.select(outbox.c.subject, sa.func.count())
                .where(outbox.c.type == "order.expired")
                .group_by(outbox.c.subject)
            )
        ).all()
    assert len(rows) == 24 and all(r.status == "expired" and r.stock_released_at is not None for r in rows)
    assert sorted(subject for subject, _ in events) == sorted(f"order:{p.order['order_no']}" for p in placed)
    assert {count for _, count in events} == {1}


async def test_three_sweepers_taking_small_batches_expire_each_order_once(buy_ctx: Context) -> None:
    sale = await make_sale(buy_ctx, quantity=60, limit=1)
    buyers = await make_buyers(buy_ctx, 60)
    for n, (buyer, _) in enumerate(buyers):
        await buying.buy(buy_ctx, buyer, sale.item_id, 1, f"k{n}")
    others = [await build_context(buy_ctx.settings, listen_for_restock=False) for _ in range(2)]
    try:
        for ctx in (buy_ctx, *others):
            later(ctx, 21)
        counts = await asyncio.gather(
            *(order_service.expire_unpaid_orders(ctx, batch=4) for ctx in (buy_ctx, *others, buy_ctx))
        )
        counts.append(await order_service.expire_unpaid_orders(buy_ctx))  # one skipped a locked row: later
    finally:
        for ctx in others:
            await close_context(ctx)
    assert sum(counts) == 60
    assert (await buy_ctx.stock.remaining([sale.item_id])) == {sale.item_id: 60}  # type: ignore[union-attr]
    counters = await buy_ctx.stock.read_counters(sale.item_id)  # type: ignore[union-attr]
    assert counters is not None and counters.taken == 0 and not counters.per_buyer


async def test_a_release_cut_off_in_the_middle_of_a_batch_is_finished_exactly_once(buy_ctx: Context) -> None:
    sale = await make_sale(buy_ctx, quantity=10, limit=1)
    buyers = await make_buyers(buy_ctx, 10)
    for n, (buyer, _) in enumerate(buyers):
        await buying.buy(buy_ctx, buyer, sale.item_id, 1, f"k{n}")
    stock = buy_ctx.stock
    assert stock is not None
    original = stock.release_after

    async def dies_halfway(closed):  # type: ignore[no-untyped-def]
        await original(closed[: len(closed) // 2])
        raise ConnectionError("killed halfway through the batch's release")

    stock.release_after = dies_halfway  # type: ignore[method-assign]
    later(buy_ctx, 21)
    try:
        assert await order_service.expire_unpaid_orders(buy_ctx) == 10
    finally:
        stock.release_after = original  # type: ignore[method-assign]
    in_db = stock.name == "sql"  # the SQL engine returned every unit inside the expiring transaction
    assert await stock.remaining([sale.item_id]) == {sale.item_id: 10 if in_db else 5}
    assert await order_service.finish_interrupted_releases(buy_ctx) == (0 if in_db else 10)
    assert await order_service.finish_interrupted_releases(buy_ctx) == 0
    assert await stock.remaining([sale.item_id]) == {sale.item_id: 10}  # the first half not twice
    counters = await stock.read_counters(sale.item_id)
    assert counters is not None and counters.taken == 0 and not counters.per_buyer


async def test_the_worker_sweeps_again_at_once_while_a_closed_window_leaves_more_due(
    buy_ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    sale = await make_sale(buy_ctx, quantity=20, limit=1)
    buyers = await make_buyers(buy_ctx, 20)
    for n, (buyer, _) in enumerate(buyers):
        await buying.buy(buy_ctx, buyer, sale.item_id, 1, f"k{n}")
    # Passes of 5 orders and a poll interval far beyond the test's patience: only passes that follow
    # each other without the pause can expire the 20 in time.
    monkeypatch.setattr(
        order_service,
        "expire_unpaid_orders",
        functools.partial(order_service.expire_unpaid_orders, batch=5, max_batches=1),
    )
    monkeypatch.setattr(order_service, "EXPIRY_PASS_LIMIT", 5)
    slow = await build_context(
        buy_ctx.settings.model_copy(update={"worker_poll_seconds": 60.0}), listen_for_restock=False
    )
    later(slow, 21)
    stop = asyncio.Event()
    worker = asyncio.create_task(run_forever(slow, stop))
    try:
        for _ in range(100):
            async with buy_ctx.read() as conn:
                left = await conn.scalar(
                    sa.select(sa.func.count()).where(orders.c.status == "pending_payment")
                )
            if left == 0:
                break
            await asyncio.sleep(0.1)
    finally:
        stop.set()
        await asyncio.wait_for(worker, 10)
        await close_context(slow)
    assert left == 0
    assert (await buy_ctx.stock.remaining([sale.item_id])) == {sale.item_id: 20}  # type: ignore[union-attr]


async def test_cancel_racing_expiry_returns_the_units_once(buy_ctx: Context) -> None:
    sale = await make_sale(buy_ctx, quantity=20, limit=1)
    buyers = await make_buyers(buy_ctx, 20)
    placed = [
        (await buying.buy(buy_ctx, b, sale.item_id, 1, f"k{n}")).order for n, (b, _) in enumerate(buyers)
    ]
    later(buy_ctx, 21)  # past the deadline, but the sweep and the cancels race
    cancels = [
        order_service.cancel_by_buyer(buy_ctx, b, o["order_no"])
        for (b, _), o in zip(buyers, placed, strict=True)
    ]
    results = await asyncio.gather(
        order_service.expire_unpaid_orders(buy_ctx), *cancels, return_exceptions=True
    )
    async with buy_ctx.read() as conn:
        statuses = (
            await conn.execute(sa.select(orders.c.status, sa.func.count()).group_by(orders.c.status))
        ).all()
    assert sum(n for _, n in statuses) == 20
    assert {s for s, _ in statuses} <= {"expired", "cancelled"}
    assert (await buy_ctx.stock.remaining([sale.item_id])) == {sale.item_id: 20}
    refused = [r for r in results[1:] if isinstance(r, Exception)]
    assert all(getattr(r, "code", None) == "order_not_cancellable" for r in refused)


async def test_an_expired_order_cannot_be_cancelled_and_a_restart_expires_what_was_left(
    buy_ctx: Context,
) -> None:
    sale = await make_sale(buy_ctx, quantity=2, limit=2)
    [(buyer, _)] = await make_buyers(buy_ctx, 1)
    order = (await buying.buy(buy_ctx, buyer, sale.item_id, 1, "k")).order
    # The "restarted" worker is a fresh context: all it needs is in the database.
    fresh = await build_context(buy_ctx.settings, listen_for_restock=False)
    try:
        later(fresh, 25)
        done = await run_once(fresh)
        # The notifier reads the outbox records it is shown (on PostgreSQL, those of transactions older
        # than any still running on the server): how many is not fixed, what it sends is (nothing here).
        notifier = {name: done.pop(name) for name in ("notifications_queued", "reminders_queued")}
        assert notifier["reminders_queued"] == 0 and done.pop("notifications_sent") == 0
        assert done == {
            "expired": 1,
            "releases_finished": 0,
            "stock_reloaded": 1 if buy_ctx.stock.name == "redis" else 0,  # Redis: first pass loads the item
            "doubts_settled": 0,
            "orphans_settled": 0,
            "payments_rechecked": 0,
            "refunds_sent": 0,
            "declared": 0,
            "receipts_applied": 0,
            "shipped": 0,
            "declarations_refunded": 0,
            "declarations_withdrawn": 0,
            "returns_declared": 0,
            "cancellations_declared": 0,
            "flagged_for_attention": 0,
            "partner_events": 0,
            "partner_events_published": 0,
            "webhooks_queued": 0,
            "webhooks_sent": 0,
        }
    finally:
        await close_context(fresh)
    try:
        await order_service.cancel_by_buyer(buy_ctx, buyer, order["order_no"])
        raise AssertionError("cancel of an expired order must be refused")
    except Exception as exc:
        assert getattr(exc, "code", None) == "order_not_cancellable"
    assert (await buy_ctx.stock.remaining([sale.item_id])) == {sale.item_id: 2}


async def test_the_sold_out_flag_clears_in_every_process_within_a_second_of_restock(buy_ctx: Context) -> None:
    sale = await make_sale(buy_ctx, quantity=1, limit=1)
    [(first, _), (second, _)] = await make_buyers(buy_ctx, 2)
    other_api = await build_context(buy_ctx.settings)  # a second API process with its own board
    try:
        assert other_api.stock is not None
        await other_api.stock.following()
        order = (await buying.buy(buy_ctx, first, sale.item_id, 1, "k")).order
        try:
            await buying.buy(other_api, second, sale.item_id, 1, "k2")
        except Exception as exc:
            assert getattr(exc, "code", None) == "sold_out"
        assert other_api.buy_path is not None and other_api.buy_path.board.is_sold_out(sale.item_id)
        await order_service.cancel_by_buyer(buy_ctx, first, order["order_no"])
        for _ in range(20):
            if not other_api.buy_path.board.is_sold_out(sale.item_id):
                break
            await asyncio.sleep(0.05)
        assert not other_api.buy_path.board.is_sold_out(sale.item_id)  # cleared within 1 s
        bought = (await buying.buy(other_api, second, sale.item_id, 1, "k3")).order
        assert bought["status"] == "pending_payment"
    finally:
        await close_context(other_api)


async def test_an_interrupted_release_is_finished_by_the_worker_exactly_once(buy_ctx: Context) -> None:
    sale = await make_sale(buy_ctx, quantity=1, limit=1)
    [(buyer, _)] = await make_buyers(buy_ctx, 1)
    order = (await buying.buy(buy_ctx, buyer, sale.item_id, 1, "k")).order
    stock = buy_ctx.stock
    assert stock is not None
    original = stock.release_after

    async def crash(_orders):  # type: ignore[no-untyped-def]
        raise ConnectionError("killed between commit and release")

    stock.release_after = crash  # type: ignore[method-assign]
    await order_service.cancel_by_buyer(buy_ctx, buyer, order["order_no"])
    stock.release_after = original  # type: ignore[method-assign]
    expected_left = 0 if stock.name == "redis" else 1  # the SQL engine released inside the transaction
    assert (await stock.remaining([sale.item_id])) == {sale.item_id: expected_left}
    finished = await order_service.finish_interrupted_releases(buy_ctx)
    assert finished == (1 if stock.name == "redis" else 0)
    assert await order_service.finish_interrupted_releases(buy_ctx) == 0
    if stock.name == "redis":  # a duplicate release (a second worker racing) changes nothing
        await stock.release_after(
            [{"id": order["id"], "sale_item_id": sale.item_id, "buyer_id": buyer, "quantity": 1}]
        )
    assert (await stock.remaining([sale.item_id])) == {sale.item_id: 1}
