"""The operator console's live sale board: the tallies the settlement and the expiry sweep keep, the
figures of a running sale on every storage backend and stock engine, one build a second however many
screens ask, and the page and its JSON for operators only."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import sqlalchemy as sa

from flashport.adapters.db import settlement_repo, tallies_repo
from flashport.adapters.db.schema import orders
from flashport.app import create_app
from flashport.bench import notify as bench
from flashport.bench.board_screens import BoardScreens
from flashport.bench.loadgen import Target
from flashport.domain.accounts import Role
from flashport.domain.payments import TradeReport, TradeState
from flashport.services.context import Context
from flashport.services.orders import lifecycle as order_service
from flashport.services.payments import settlement
from flashport.services.sales import buying
from flashport.services.sales.board import SaleBoard
from flashport.web import session as web_session
from tests.factories import auth, make_user
from tests.sale_builder import make_buyers, make_sale
from tests.servers import serving
from tests.waiting import eventually


class Ticks:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def later(ctx: Context, minutes: float) -> None:
    base = ctx.clock
    ctx.clock = lambda: base() + timedelta(minutes=minutes)


async def _truth(ctx: Context, item_id: int) -> tallies_repo.Tally:
    """The tally counted the slow way, from every order of the item."""
    closed = ("expired", "cancelled")
    async with ctx.read() as conn:
        rows = (
            await conn.execute(
                sa.select(orders.c.status, sa.func.count(), sa.func.sum(orders.c.quantity))
                .where(orders.c.sale_item_id == item_id)
                .group_by(orders.c.status)
            )
        ).all()
    by_status = {status: (int(n), int(units)) for status, n, units in rows}
    paid = by_status.get("paid", (0, 0))
    closed_n = sum(by_status.get(s, (0, 0))[0] for s in closed)
    closed_units = sum(by_status.get(s, (0, 0))[1] for s in closed)
    return tallies_repo.Tally(paid[0], paid[1], closed_n, closed_units)


async def _tally(ctx: Context, item_id: int) -> tallies_repo.Tally:
    async with ctx.read() as conn:
        return (await tallies_repo.read(conn, [item_id]))[item_id]


async def test_settlement_groups_count_each_payment_once_in_the_tallies(ctx: Context) -> None:
    prepared = await bench.prepare_payments(ctx, 8, "tally1")
    now = datetime.now(UTC)

    def paid(no: str, trade: str = "T") -> settlement.Report:
        return settlement.Report(TradeReport(no, f"{trade}-{no}", TradeState.PAID, bench.SALE_PRICE_FEN, now))

    first, second = prepared.out_trade_nos[:3], prepared.out_trade_nos[3:6]
    # Two groups at once, each with a repeated notification; then a close of one of the rest.
    await asyncio.gather(
        settlement.settle_group(ctx, [paid(no) for no in first] + [paid(first[0])]),
        settlement.settle_group(ctx, [paid(no) for no in second] + [paid(second[0], "T2")]),
    )
    await settlement.settle_group(ctx, [paid(first[1])])  # the provider retrying later
    assert await _tally(ctx, prepared.item_id) == await _truth(ctx, prepared.item_id)
    assert await _tally(ctx, prepared.item_id) == tallies_repo.Tally(6, 6, 0, 0)


async def test_the_board_shows_a_running_sale_with_its_rates(buy_ctx: Context) -> None:
    ctx = buy_ctx
    sale = await make_sale(ctx, quantity=10, limit=2)
    buyers = await make_buyers(ctx, 5)
    ticks = Ticks()
    board = SaleBoard(clock=ticks)
    a = (await buying.buy(ctx, buyers[0][0], sale.item_id, 2, "a")).order
    await buying.buy(ctx, buyers[1][0], sale.item_id, 1, "b")
    c = (await buying.buy(ctx, buyers[2][0], sale.item_id, 1, "c")).order
    async with ctx.transaction() as tx:  # what a settlement group does to a paid order
        await settlement_repo.mark_paid_many(tx.conn, [(a["id"], tx.now)])
    await order_service.cancel_by_buyer(ctx, buyers[2][0], c["order_no"])  # closed unpaid, as an expiry

    first = await board.snapshot(ctx)
    [event] = [e for e in first.events if e.event_id == sale.event_id]
    [item] = event.items
    assert (item.quantity, item.left, item.sold, item.reserved, item.paid, item.closed) == (10, 7, 3, 1, 2, 1)
    assert (item.paid_orders, item.closed_orders, item.conversion) == (1, 1, 0.5)
    assert item.units_per_second == 0.0 and item.seconds_to_sell_out is None  # one sample: no rate yet

    await buying.buy(ctx, buyers[3][0], sale.item_id, 2, "d")
    ticks.now += 2.0
    [item] = next(e for e in (await board.snapshot(ctx)).events if e.event_id == sale.event_id).items
    assert (item.sold, item.left) == (5, 5)
    assert item.units_per_second == pytest.approx(1.0)  # 2 units in 2 s
    assert item.seconds_to_sell_out == pytest.approx(5.0)  # 5 left at 1 a second

    # The sale's window ends: the event leaves the board.
    later(ctx, 60 * 24 * 30)
    ticks.now += 2.0
    assert sale.event_id not in [e.event_id for e in (await board.snapshot(ctx)).events]
    assert await _tally(ctx, sale.item_id) == await _truth(ctx, sale.item_id)


async def test_expiry_sweeps_keep_the_tallies(buy_ctx: Context) -> None:
    sale = await make_sale(buy_ctx, quantity=12, limit=3)
    buyers = await make_buyers(buy_ctx, 6)
    for n, (buyer, _) in enumerate(buyers):
        await buying.buy(buy_ctx, buyer, sale.item_id, 1 + n % 3, f"e{n}")
    later(buy_ctx, 21)
    assert await order_service.expire_unpaid_orders(buy_ctx) == 6
    assert await _tally(buy_ctx, sale.item_id) == tallies_repo.Tally(0, 0, 6, 12)
    assert await _tally(buy_ctx, sale.item_id) == await _truth(buy_ctx, sale.item_id)


async def test_many_screens_share_one_build_a_second(ctx: Context) -> None:
    await make_sale(ctx, quantity=5, limit=1)
    ticks = Ticks()
    board = SaleBoard(clock=ticks)
    boards = await asyncio.gather(*(board.snapshot(ctx) for _ in range(20)))
    assert board.builds == 1 and all(b is boards[0] for b in boards)
    ticks.now += 0.5
    assert await board.snapshot(ctx) is boards[0] and board.builds == 1
    ticks.now += 0.6
    assert await board.snapshot(ctx) is not boards[0] and board.builds == 2


@pytest.fixture
async def http(ctx: Context) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(ctx=ctx))
    # The console is read in English here (its second language; tests/integration/test_console_language.py
    # reads it in Chinese, its default).
    english = {"accept-language": "en"}
    async with httpx.AsyncClient(transport=transport, base_url="http://shop.test", headers=english) as client:
        yield client


async def _log_in(client: httpx.AsyncClient, ctx: Context, role: Role) -> None:
    user_id, _ = await make_user(ctx, role)
    data = {"uid": user_id, "role": role.value, "name": f"Test {role.value}", "csrf": "c"}
    client.cookies.set(
        web_session.COOKIE, web_session.encode(data, ctx.settings.keys.secret, 3600), domain="shop.test"
    )


async def test_the_page_and_its_figures_are_for_operators_only(ctx: Context, http: httpx.AsyncClient) -> None:
    sale = await make_sale(ctx, quantity=7, limit=1)
    assert (await http.get("/operator/board")).status_code == 303  # to the log-in page
    await _log_in(http, ctx, Role.BUYER)
    assert (await http.get("/operator/board")).status_code == 403
    assert (await http.get("/operator/board.json")).status_code == 403
    await _log_in(http, ctx, Role.OPERATOR)
    page = await http.get("/operator/board")
    assert page.status_code == 200 and f'data-item-id="{sale.item_id}"' in page.text
    figures = (await http.get("/operator/board.json", headers={"Accept": "application/json"})).json()
    [event] = [e for e in figures["events"] if e["event_id"] == sale.event_id]
    assert event["status"] == "live"
    assert {k: event["items"][0][k] for k in ("item_id", "quantity", "left", "sold")} == {
        "item_id": sale.item_id,
        "quantity": 7,
        "left": 7,
        "sold": 0,
    }

    _, buyer_token = await make_user(ctx, Role.BUYER)
    _, operator_token = await make_user(ctx, Role.OPERATOR)
    assert (await http.get("/api/v1/admin/board", headers=auth(buyer_token))).status_code == 403
    answer = await http.get("/api/v1/admin/board", headers=auth(operator_token))
    assert answer.status_code == 200
    assert [e for e in answer.json()["events"] if e["event_id"] == sale.event_id] == [event]


async def test_the_benchmarks_board_screens_poll_a_real_server(ctx: Context) -> None:
    """``flashport bench --board-screens N``: screens that poll the board API as an operator, each on a
    connection of its own, counting answers and failures."""
    await make_sale(ctx, quantity=3, limit=1)
    _, operator_token = await make_user(ctx, Role.OPERATOR)
    _, buyer_token = await make_user(ctx, Role.BUYER)
    async with serving(create_app(ctx=ctx)) as url:
        target = Target.from_url(url)
        screens = BoardScreens(target, operator_token, 3, every=0.05)
        refused = BoardScreens(target, buyer_token, 1, every=0.05)
        screens.start()
        refused.start()
        try:
            await eventually(lambda: _ready(screens.report.polls, refused.report.polls), what="polls")
        finally:
            seen, not_let_in = await asyncio.to_thread(screens.stop), await asyncio.to_thread(refused.stop)
    assert seen.failures == 0 and len(seen.latencies_ms) == seen.polls >= 6
    assert seen.as_json()["p99_ms"] is not None
    assert not_let_in.failures == not_let_in.polls >= 2 and not_let_in.as_json()["p50_ms"] is None


async def _ready(polls: int, refused: int) -> bool:
    return polls >= 6 and refused >= 2
