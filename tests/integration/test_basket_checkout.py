"""Checking a basket out (issue 18, point 1): the basket's units folded into one order of several lines,
paid once, declared with every line, or expired and cancelled with every unit back exactly once. On
SQLite and PostgreSQL, with the SQL and the Redis stock engine (``buy_ctx``), since stock moves."""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import re
from collections.abc import AsyncIterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from flashport.adapters.db import declarations_repo, tallies_repo
from flashport.adapters.db.schema import orders, outbox, sale_items
from flashport.app import create_app
from flashport.ceb.declarations import order_message
from flashport.ceb.inventory import inventory_message
from flashport.ceb.validate import validate
from flashport.domain.errors import Conflict
from flashport.domain.payments import TradeReport, TradeState
from flashport.services.accounts import identities
from flashport.services.context import Context
from flashport.services.customs import documents
from flashport.services.notify import queueing, sending
from flashport.services.orders import basket, checkout
from flashport.services.orders import lifecycle as order_service
from flashport.services.orders.basket_checkout import check_out_basket
from flashport.services.payments import settlement
from flashport.services.sales import buying, events
from flashport.services.sales.reconcile import reconcile
from tests.clocks import ShiftedClock
from tests.factories import auth
from tests.integration import test_declarations as declaring_world
from tests.integration import test_waitlist as waitlist_world
from tests.integration.test_web_pages import CSRF, log_in_as
from tests.mailbox import Mailbox
from tests.sale_builder import Sale, make_buyers, make_sale
from tests.waiting import HTTP_TIMEOUT, eventually

PAYER = ("李娜", "110105199003070025")
CONSIGNEE = ("王伟", "13800138000", "上海市浦东新区世纪大道100号")


@pytest.fixture
def bctx(buy_ctx: Context) -> Context:
    """``buy_ctx`` with its clock stopped: time moves only when a test says so (``later``)."""
    stopped = buy_ctx.clock()
    buy_ctx.clock = lambda: stopped
    return buy_ctx


def _fen(amount: str) -> int:
    return int(Decimal(amount) * 100)


def later(ctx: Context, minutes: float) -> None:
    base = ctx.clock
    ctx.clock = lambda: base() + timedelta(minutes=minutes)


async def _two_items(ctx: Context, *, quantity: int = 5, limit: int = 3) -> tuple[Sale, Sale]:
    """Milk and cream on sale, both from milk's warehouse (the builder gives each sale its own)."""
    milk = await make_sale(ctx, quantity=quantity, limit=limit)
    cream = await make_sale(ctx, quantity=quantity, limit=limit)
    async with ctx.transaction() as tx:
        warehouse = sa.select(sale_items.c.warehouse_id).where(sale_items.c.id == milk.item_id)
        await tx.conn.execute(
            sale_items.update()
            .where(sale_items.c.id == cream.item_id)
            .values(warehouse_id=warehouse.scalar_subquery())
        )
    return milk, cream


async def _fill(ctx: Context, buyer: int, items: list[int], tag: str = "") -> list[str]:
    """One add per entry of ``items``, a second apart; the holding orders' numbers."""
    added = []
    for n, item in enumerate(items):
        added.append((await basket.add(ctx, buyer, item, f"add-{tag}{n}-{item}")).order_no)
        later(ctx, 1 / 60)
    return added


async def _taken(ctx: Context, item_id: int) -> tuple[int, dict[int, int]]:
    counters = await ctx.stock.read_counters(item_id)
    assert counters is not None
    return counters.taken, dict(counters.per_buyer)


async def _agrees(ctx: Context, *item_ids: int) -> None:
    reports = await reconcile(ctx, list(item_ids))
    assert all(r.agrees for r in reports), reports


async def _statuses(ctx: Context, order_nos: list[str]) -> dict[str, tuple[str, Any]]:
    async with ctx.read() as conn:
        rows = await conn.execute(
            sa.select(orders.c.order_no, orders.c.status, orders.c.merged_into).where(
                orders.c.order_no.in_(order_nos)
            )
        )
        return {no: (status, into) for no, status, into in rows}


async def test_checkout_folds_the_units_into_one_order_with_a_line_per_item_and_a_retry_answers_it(
    bctx: Context,
) -> None:
    milk, cream = await _two_items(bctx)
    [(buyer, _)] = await make_buyers(bctx, 1)
    holding = await _fill(bctx, buyer, [milk.item_id, cream.item_id, milk.item_id])
    hold = (await basket.view(bctx, buyer)).hold_until
    later(bctx, 5)
    done = await check_out_basket(bctx, buyer, "checkout-1")
    order = done.order
    assert done.created and order.status == "pending_payment"
    assert [(ln.line_no, ln.sale_item_id, ln.quantity) for ln in order.lines] == [
        (1, milk.item_id, 2),
        (2, cream.item_id, 1),
    ]
    assert (order.quantity, order.goods_value, order.total) == (3, "297.00", "297.00")
    assert order.payment_deadline == hold  # the basket's hold, not a new window
    merged = await _statuses(bctx, holding)
    assert {status for status, _ in merged.values()} == {"merged"}
    assert {into for _, into in merged.values()} == {order.id}
    # Nothing moved in the engines: the units are the order's now.
    assert await _taken(bctx, milk.item_id) == (2, {buyer: 2})
    assert await _taken(bctx, cream.item_id) == (1, {buyer: 1})
    await _agrees(bctx, milk.item_id, cream.item_id)
    assert (await basket.view(bctx, buyer)).units == []
    mine = await order_service.list_for_buyer(bctx, buyer)
    assert [o.order_no for o in mine] == [order.order_no]  # the merged ones are lines of it, not orders

    again = await check_out_basket(bctx, buyer, "checkout-1")
    assert not again.created and again.order.order_no == order.order_no
    with pytest.raises(Conflict) as empty:
        await check_out_basket(bctx, buyer, "checkout-2")
    assert empty.value.code == "basket_empty"
    with pytest.raises(Conflict) as not_removable:
        await basket.remove(bctx, buyer, holding[0])
    assert not_removable.value.code == "order_not_cancellable"
    assert await _taken(bctx, milk.item_id) == (2, {buyer: 2})


async def test_an_unpaid_basket_order_expires_returning_every_unit_once_and_a_late_payment_is_refunded(
    bctx: Context,
) -> None:
    milk, cream = await _two_items(bctx, limit=2)
    [(buyer, _)] = await make_buyers(bctx, 1)
    await _fill(bctx, buyer, [milk.item_id, milk.item_id, cream.item_id])
    order = (await check_out_basket(bctx, buyer, "co")).order
    identity = await identities.add_identity(bctx, buyer, *PAYER, "13700137000")
    form = checkout.CheckoutForm(*CONSIGNEE, None, identity.id)
    await checkout.check_out(bctx, buyer, order.order_no, form)
    payment = await settlement.start_payment(bctx, buyer, order.order_no)
    later(bctx, 19)
    assert await order_service.expire_unpaid_orders(bctx) == 0
    later(bctx, 2)
    assert await order_service.expire_unpaid_orders(bctx) == 1
    assert await order_service.expire_unpaid_orders(bctx) == 0
    assert await order_service.finish_interrupted_releases(bctx) == 0
    assert await _taken(bctx, milk.item_id) == (0, {})
    assert await _taken(bctx, cream.item_id) == (0, {})
    assert await bctx.stock.remaining([milk.item_id, cream.item_id]) == {milk.item_id: 5, cream.item_id: 5}
    await _agrees(bctx, milk.item_id, cream.item_id)
    async with bctx.read() as conn:
        expired = (
            await conn.execute(
                sa.select(outbox.c.payload).where(
                    outbox.c.type == "order.expired", outbox.c.subject == f"order:{order.order_no}"
                )
            )
        ).scalar_one()
        board = await tallies_repo.read(conn, [milk.item_id, cream.item_id])
    assert expired["units_returned"] == 3
    assert {(ln["sale_item_id"], ln["units_returned"]) for ln in expired["lines"]} == {
        (milk.item_id, 2),
        (cream.item_id, 1),
    }
    assert (board[milk.item_id].closed_units, board[cream.item_id].closed_units) == (2, 1)
    # The payment arrives late: refunded, the order stays expired, nothing comes back a second time.
    report = TradeReport(
        payment.out_trade_no, "T-late", TradeState.PAID, _fen(payment.amount), paid_at=bctx.clock()
    )
    assert await settlement.settle(bctx, report, source="notification") == "refund"
    assert await settlement.settle(bctx, report, source="notification") == "nothing"
    assert (await order_service.get_for_buyer(bctx, buyer, order.order_no)).status == "expired"
    assert await _taken(bctx, milk.item_id) == (0, {})
    await _agrees(bctx, milk.item_id, cream.item_id)
    # The per-buyer limit is free again: the buyer can take two milk once more.
    assert (await buying.buy(bctx, buyer, milk.item_id, 2, "again")).created


async def test_cancelling_the_order_or_one_of_its_sales_returns_every_unit_once(bctx: Context) -> None:
    milk, cream = await _two_items(bctx)
    [(first, _), (second, _)] = await make_buyers(bctx, 2)
    for buyer in (first, second):
        await _fill(bctx, buyer, [milk.item_id, cream.item_id], tag=str(buyer))
    mine = (await check_out_basket(bctx, first, "co")).order
    theirs = (await check_out_basket(bctx, second, "co")).order
    cancelled = await order_service.cancel_by_buyer(bctx, first, mine.order_no)
    assert cancelled.status == "cancelled"
    with pytest.raises(Conflict):
        await order_service.cancel_by_buyer(bctx, first, mine.order_no)
    assert await _taken(bctx, milk.item_id) == (1, {second: 1})
    # The basket order's second line is of cream's sale: calling that sale off cancels the whole order.
    await events.cancel_event(bctx, cream.event_id)
    assert (await order_service.get_for_buyer(bctx, second, theirs.order_no)).status == "cancelled"
    assert await _taken(bctx, milk.item_id) == (0, {})
    await _agrees(bctx, milk.item_id, cream.item_id)


async def test_paying_the_order_sells_every_line_once_and_its_customs_order_lists_every_line(
    bctx: Context,
) -> None:
    milk, cream = await _two_items(bctx)
    [(buyer, _)] = await make_buyers(bctx, 1)
    await _fill(bctx, buyer, [milk.item_id, cream.item_id, cream.item_id])
    order = (await check_out_basket(bctx, buyer, "co")).order
    identity = await identities.add_identity(bctx, buyer, *PAYER, "13700137000")
    priced = await checkout.check_out(
        bctx, buyer, order.order_no, checkout.CheckoutForm(*CONSIGNEE, None, identity.id)
    )
    assert [ln.quantity for ln in priced.lines] == [1, 2]
    payment = await settlement.start_payment(bctx, buyer, order.order_no)
    assert payment.amount == priced.total
    report = TradeReport(payment.out_trade_no, "T-basket-1", TradeState.PAID, _fen(payment.amount))
    assert await settlement.settle(bctx, report, source="notification") == "pay_order"
    assert await settlement.settle(bctx, report, source="notification") == "nothing"  # a duplicate
    paid = await order_service.get_for_buyer(bctx, buyer, order.order_no)
    assert paid.status == "paid"
    async with bctx.read() as conn:
        rows = await conn.execute(
            sa.select(sale_items.c.id, sale_items.c.reserved, sale_items.c.sold).where(
                sale_items.c.id.in_([milk.item_id, cream.item_id])
            )
        )
        counters = {item: (reserved, sold) for item, reserved, sold in rows}
        board = await tallies_repo.read(conn, [milk.item_id, cream.item_id])
        declaration = await declarations_repo.find_by_order_no(conn, order.order_no)
        assert declaration is not None
        facts = await documents.load(bctx, conn, declaration.id)
    if bctx.stock.name == "sql":  # the SQL engine tells reserved from sold
        assert counters == {milk.item_id: (0, 1), cream.item_id: (0, 2)}
    assert await _taken(bctx, milk.item_id) == (1, {buyer: 1})
    assert await _taken(bctx, cream.item_id) == (2, {buyer: 2})
    assert (board[milk.item_id].paid_units, board[cream.item_id].paid_units) == (1, 2)
    await _agrees(bctx, milk.item_id, cream.item_id)
    # Paid orders never expire; the units stay sold.
    later(bctx, 30)
    assert await order_service.expire_unpaid_orders(bctx) == 0
    assert await _taken(bctx, cream.item_id) == (2, {buyer: 2})
    # CEB311: one order, a goods line per order line, valid against the customs schema.
    declared = documents.order_declaration(bctx, facts)
    assert [(ln.gnum, ln.qty, ln.total_price) for ln in declared.lines] == [(1, 1, 9900), (2, 2, 19800)]
    message = order_message(declared, documents.platform_sender(bctx))
    assert validate(message) == []
    assert message.count(b"<ceb:OrderList>") == 2
    # CEB621, once the carrier has given a waybill: an inventory line per order line, gnum for gnum.
    waybill = dataclasses.replace(
        facts.declaration, logistics_code="3120980105", logistics_name="Sandbox Express", logistics_no="SF1"
    )
    inventory = documents.inventory_declaration(
        bctx, dataclasses.replace(facts, declaration=waybill), bctx.clock().date()
    )
    assert [(ln.gnum, ln.qty) for ln in inventory.lines] == [(1, 1), (2, 2)]
    listed = inventory_message(inventory, documents.platform_sender(bctx), signer=documents.signer(bctx))
    assert validate(listed) == []


async def test_checkouts_racing_each_other_and_the_expiry_sweep_never_return_a_unit_twice_or_lose_one(
    bctx: Context,
) -> None:
    """Per buyer, three checkouts (two with one key, one with another) race each other and a sweeper
    whose clock is past the hold (another machine's) while the checkouts' is inside it: each holding
    order is either folded or expired, never both, never neither, and each buyer gets one order at most,
    the same one for both requests with its key."""
    milk, cream = await _two_items(bctx, quantity=40, limit=3)
    buyers = [b for b, _ in await make_buyers(bctx, 6)]
    for buyer in buyers:
        await _fill(bctx, buyer, [milk.item_id, cream.item_id, milk.item_id])
    sweeper = copy.copy(bctx)
    ahead = bctx.clock() + timedelta(minutes=20, seconds=1)
    sweeper.clock = lambda: ahead
    later(bctx, 10)

    async def check_out(buyer: int, key: str) -> str | None:
        try:
            return (await check_out_basket(bctx, buyer, key)).order.order_no
        except Conflict as exc:
            assert exc.code == "basket_empty"
            return None

    keys = ("race", "other", "race")
    answers = await asyncio.gather(
        *(check_out(buyer, key) for buyer in buyers for key in keys),
        order_service.expire_unpaid_orders(sweeper, batch=4),
    )
    for n in range(len(buyers)):
        race, other, again = answers[3 * n : 3 * n + 3]
        assert race == again and (race is None or other is None)
    await order_service.finish_interrupted_releases(bctx)
    async with bctx.read() as conn:
        columns = (orders.c.status, orders.c.quantity, orders.c.merged_into, orders.c.idempotency_key)
        rows = (await conn.execute(sa.select(*columns).where(orders.c.buyer_id.in_(buyers)))).all()
    made = [r for r in rows if r.idempotency_key.startswith("basket-checkout:")]
    holding = [r for r in rows if r not in made]
    assert len(made) <= len(buyers)
    # The sweeper may have expired a folded order too: its deadline is the same hold.
    assert {r.status for r in holding} <= {"merged", "expired"} and len(holding) == 3 * len(buyers)
    assert len({r.merged_into for r in holding if r.status == "merged"}) == len(made)
    live = sum(r.quantity for r in rows if r.status == "pending_payment")
    assert live == sum(r.quantity for r in made if r.status == "pending_payment")
    milk_taken, _ = await _taken(bctx, milk.item_id)
    cream_taken, _ = await _taken(bctx, cream.item_id)
    assert milk_taken + cream_taken == live  # what is still held is held once, the rest came back
    await _agrees(bctx, milk.item_id, cream.item_id)
    # Whatever the checkouts won expires in its turn, and everything is back.
    later(bctx, 11)
    await order_service.expire_unpaid_orders(bctx)
    assert await _taken(bctx, milk.item_id) == (0, {})
    assert await _taken(bctx, cream.item_id) == (0, {})
    await _agrees(bctx, milk.item_id, cream.item_id)


# --- over HTTP: the API and the storefront (SQL stock engine; both databases) ----------------------


@pytest.fixture
async def shop(ctx: Context) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(ctx=ctx))
    async with httpx.AsyncClient(transport=transport, base_url="http://shop.test") as http:
        yield http


async def test_the_api_checks_the_basket_out_once_with_clear_errors(
    ctx: Context, shop: httpx.AsyncClient
) -> None:
    milk, cream = await _two_items(ctx)
    [(buyer, token)] = await make_buyers(ctx, 1)
    headers = auth(token)
    for n, item in enumerate([milk.item_id, cream.item_id, cream.item_id]):
        await basket.add(ctx, buyer, item, f"api-{n}")

    async def check_out(key: str | None) -> httpx.Response:
        extra = {} if key is None else {"idempotency-key": key}
        return await shop.post("/api/v1/basket/checkout", headers=headers | extra)

    missing = await check_out(None)
    assert missing.status_code == 422 and missing.json()["code"] == "idempotency_key_required"
    made = await check_out("c1")
    assert made.status_code == 201, made.text
    body = made.json()
    assert body["quantity"] == 3 and body["goods_value"] == "297.00"
    assert [(ln["sale_item_id"], ln["quantity"], ln["total"]) for ln in body["lines"]] == [
        (milk.item_id, 1, "99.00"),
        (cream.item_id, 2, "198.00"),
    ]
    again = await check_out("c1")
    assert again.status_code == 200 and again.json()["order_no"] == body["order_no"]
    empty = await check_out("c2")
    assert empty.status_code == 409 and empty.json()["code"] == "basket_empty"
    shown = await shop.get(f"/api/v1/orders/{body['order_no']}", headers=headers)
    assert shown.status_code == 200 and len(shown.json()["lines"]) == 2
    assert (await shop.get("/api/v1/basket", headers=headers)).json()["units"] == []
    assert (await shop.post("/api/v1/basket/checkout", headers={"idempotency-key": "x"})).status_code == 401


async def test_the_basket_page_checks_out_to_the_orders_page_listing_every_line_in_both_languages(
    ctx: Context, shop: httpx.AsyncClient
) -> None:
    milk, cream = await _two_items(ctx)
    for language, button, parcel in (
        ("en-GB,en;q=0.9", "Check out", "One parcel of 2 units"),
        ("zh-CN,zh;q=0.9", "结算", "共 2 件"),
    ):
        [(buyer, _)] = await make_buyers(ctx, 1)
        await basket.add(ctx, buyer, milk.item_id, f"p1-{language}")
        await basket.add(ctx, buyer, cream.item_id, f"p2-{language}")
        shop.headers["accept-language"] = language
        log_in_as(shop, ctx, buyer)
        page = (await shop.get("/basket")).text
        assert 'action="/basket/checkout"' in page and button in page
        key = re.search(r'name="idempotency_key" value="([^"]+)"', page)
        assert key is not None
        form = {"csrf_token": CSRF, "idempotency_key": key.group(1)}
        went = await shop.post("/basket/checkout", data=form)
        assert went.status_code == 303
        order_no = re.fullmatch(r"/orders/(FP\w+)#checkout", went.headers["location"])
        assert order_no is not None
        resent = await shop.post("/basket/checkout", data=form)  # pressed twice: the same order
        assert resent.headers["location"] == went.headers["location"]
        order_page = (await shop.get(f"/orders/{order_no.group(1)}")).text
        assert parcel in order_page and order_page.count("data-order-line=") == 2
        assert 'id="checkout"' in order_page  # on to the existing checkout, then the Pay button
        listed = (await shop.get("/orders")).text
        assert listed.count("data-order-no=") == 1


# --- the whole back office: declared, matched, released and shipped as one parcel -------------------

parties = (
    declaring_world.parties
)  # the four parties on loopback ports (tests/integration/test_declarations.py)


async def test_a_basket_order_is_declared_with_every_line_released_and_shipped_as_one_parcel(
    parties: declaring_world.Parties,
) -> None:
    ctx = parties.ctx
    milk, cream = await _two_items(ctx)
    [(buyer, _)] = await make_buyers(ctx, 1)
    for n, item in enumerate([milk.item_id, cream.item_id, cream.item_id]):
        await basket.add(ctx, buyer, item, f"parcel-{n}")
    order = (await check_out_basket(ctx, buyer, "parcel")).order
    identity = await identities.add_identity(ctx, buyer, *PAYER, declaring_world.BUYER_PHONE)
    await checkout.check_out(ctx, buyer, order.order_no, checkout.CheckoutForm(*CONSIGNEE, None, identity.id))
    payment = await settlement.start_payment(ctx, buyer, order.order_no)
    async with httpx.AsyncClient(timeout=HTTP_TIMEOUT) as browser:
        assert (await browser.get(payment.redirect_url)).status_code == 200
    paid = await parties.pay.post(
        f"/sandbox/trades/{payment.out_trade_no}/pay",
        json={"payer_name": PAYER[0], "payer_id_number": PAYER[1]},
    )
    assert paid.status_code == 200, paid.text
    await parties.until(lambda: parties.state(order.order_no), "pending")
    await parties.work_until(order.order_no, "shipped")
    detail = await parties.detail(order.order_no)
    bodies = {}
    for message in detail["messages"]:
        download = await parties.platform.get(
            f"/api/v1/declarations/{order.order_no}/messages/{message['id']}"
        )
        assert validate(download.content) == [], message["kind"]
        bodies[message["kind"]] = download.content
    assert declaring_world._texts(bodies["CEB311"], "gnum") == ["1", "2"]
    assert declaring_world._texts(bodies["CEB311"], "qty") == ["1", "2"]
    assert declaring_world._texts(bodies["CEB621"], "gnum") == ["1", "2"]
    assert [Decimal(q) for q in declaring_world._texts(bodies["CEB621"], "qty")] == [1, 2]
    events = await parties.events(order.order_no)
    assert events.count("order.paid") == 1 and events.count("order.shipped") == 1
    if ctx.stock.name == "sql":
        assert await _taken(ctx, cream.item_id) == (2, {buyer: 2})
    await _agrees(ctx, milk.item_id, cream.item_id)


# --- the waitlist: units of every line back -----------------------------------------------------------

mailbox = waitlist_world.mailbox  # a local SMTP server and a clock that moves when told


async def test_when_a_basket_order_expires_the_waitlist_of_each_of_its_items_hears(
    ctx: Context, client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    milk, cream = await _two_items(ctx, quantity=1, limit=1)
    [(buyer, _)] = await make_buyers(ctx, 1)
    await basket.add(ctx, buyer, milk.item_id, "w1")
    await basket.add(ctx, buyer, cream.item_id, "w2")
    await check_out_basket(ctx, buyer, "wco")
    waiting = await make_buyers(ctx, 2)
    for (_, token), item in zip(waiting, (milk.item_id, cream.item_id), strict=True):
        joined = await client.post(waitlist_world.url(item), headers=auth(token))
        assert joined.status_code == 200, joined.text
    assert isinstance(ctx.clock, ShiftedClock)
    ctx.clock.advance(timedelta(minutes=21))
    assert await order_service.expire_unpaid_orders(ctx) == 1

    async def told() -> bool:
        await queueing.queue_from_outbox(ctx)
        await sending.send_due(ctx)
        return len(mailbox.messages) >= 2

    await eventually(told, what="both waiting buyers told")
    for (_, token), item in zip(waiting, (milk.item_id, cream.item_id), strict=True):
        place = (await client.get(waitlist_world.url(item), headers=auth(token))).json()
        assert place["told_at"] is not None
