"""After the buy, an order of several lines (a checked-out basket) is read line by line where one line
would be wrong: its page shows every line with its own picture, the "units may come back" estimate of
each line's item counts it, settlement share-locks every line's sale, and a return or a desk refund
pays back once and gives the annual quota back once (or, for a refund of goods kept, not at all)."""

# ruff: noqa: RUF001 - the pages' multiplication sign and a Chinese reason's full-width comma

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal

import httpx
import pytest
import sqlalchemy as sa

from flashport.adapters.db import sales_repo
from flashport.adapters.db.schema import (
    identity_year_totals,
    orders,
    payments,
    products,
    refunds,
    sale_items,
    skus,
)
from flashport.app import create_app
from flashport.ceb.validate import validate
from flashport.domain.payments import TradeReport, TradeState
from flashport.domain.sales import EventState
from flashport.services.accounts import identities
from flashport.services.context import Context
from flashport.services.orders import basket, checkout
from flashport.services.orders import lifecycle as order_service
from flashport.services.orders.basket_checkout import check_out_basket
from flashport.services.payments import settlement
from flashport.services.sales import queries as sale_queries
from flashport.settings import Settings
from flashport.worker import run_once
from tests.conftest import BACKENDS
from tests.integration import test_declarations as declaring_world
from tests.integration.test_basket_checkout import _two_items
from tests.integration.test_web_pages import log_in_as
from tests.sale_builder import Sale, make_buyers
from tests.tracking_world import Tracking, tracking_world
from tests.waiting import HTTP_TIMEOUT

PAYER, CONSIGNEE = declaring_world.PAYER, declaring_world.CONSIGNEE


async def _honey(ctx: Context, sale: Sale) -> None:
    """Make the second item another product, with a picture of its own."""
    async with ctx.transaction() as tx:
        product_id = (
            sa.select(skus.c.product_id)
            .join(sale_items, sale_items.c.sku_id == skus.c.id)
            .where(sale_items.c.id == sale.item_id)
            .scalar_subquery()
        )
        await tx.conn.execute(
            products.update()
            .where(products.c.id == product_id)
            .values(
                title="Comvita Manuka honey UMF 10+ 250g",
                title_zh="康维他麦卢卡蜂蜜 UMF 10+ 250克",
                images=["/static/demo/comvita.svg"],
            )
        )


async def _basket_order(ctx: Context, buyer: int, milk: Sale, cream: Sale, tag: str = "") -> str:
    """One milk and two of the second item, checked out as one order of two lines."""
    for n, item in enumerate([milk.item_id, cream.item_id, cream.item_id]):
        await basket.add(ctx, buyer, item, f"after-{tag}{n}")
    return (await check_out_basket(ctx, buyer, f"after-{tag}")).order.order_no


async def _checked_out(ctx: Context, buyer: int, order_no: str) -> None:
    identity = await identities.add_identity(ctx, buyer, *PAYER, declaring_world.BUYER_PHONE)
    await checkout.check_out(ctx, buyer, order_no, checkout.CheckoutForm(*CONSIGNEE, None, identity.id))


# --- the order page ---------------------------------------------------------------------------------


async def test_a_basket_orders_page_shows_every_line_with_its_own_picture(ctx: Context) -> None:
    milk, honey = await _two_items(ctx)
    await _honey(ctx, honey)
    [(buyer, _)] = await make_buyers(ctx, 1)
    order_no = await _basket_order(ctx, buyer, milk, honey)
    transport = httpx.ASGITransport(app=create_app(ctx=ctx))
    for language, honey_text in (("en", "Comvita Manuka honey UMF 10+ 250g"), ("zh-CN", "康维他麦卢卡蜂蜜")):
        async with httpx.AsyncClient(
            transport=transport, base_url="http://shop.test", headers={"accept-language": language}
        ) as web:
            log_in_as(web, ctx, buyer)
            for path in (f"/orders/{order_no}", "/orders"):
                page = (await web.get(path)).text
                milk_line = _line(page, milk.item_id)
                honey_line = _line(page, honey.item_id)
                assert 'src="/static/demo/milk.svg"' in milk_line and "1 × ¥99.00" in milk_line
                assert 'src="/static/demo/comvita.svg"' in honey_line and "2 × ¥99.00" in honey_line
                assert honey_text in honey_line and f'href="/items/{honey.item_id}"' in honey_line


def _line(page: str, item_id: int) -> str:
    start = page.index(f'data-line-item="{item_id}"')
    return page[start : page.index("</li>", start)]


# --- units may come back ----------------------------------------------------------------------------


async def test_units_may_come_back_when_a_checked_out_basket_holding_them_on_any_line_expires(
    ctx: Context,
) -> None:
    milk, cream = await _two_items(ctx)
    [(buyer, _)] = await make_buyers(ctx, 1)
    order_no = await _basket_order(ctx, buyer, milk, cream)
    order = await order_service.get_for_buyer(ctx, buyer, order_no)
    assert order.sale_item_id == milk.item_id  # the order names its first line's item only
    deadline = order.payment_deadline
    assert await sale_queries.next_release(ctx, [cream.item_id]) == deadline
    assert await sale_queries.next_release(ctx, [milk.item_id]) == deadline
    await order_service.cancel_by_buyer(ctx, buyer, order_no)
    assert await sale_queries.next_release(ctx, [cream.item_id]) is None


# --- settlement -------------------------------------------------------------------------------------


async def test_a_payment_for_a_basket_whose_second_lines_sale_was_called_off_is_refunded(
    ctx: Context,
) -> None:
    milk, cream = await _two_items(ctx)
    [(buyer, _)] = await make_buyers(ctx, 1)
    order_no = await _basket_order(ctx, buyer, milk, cream)
    await _checked_out(ctx, buyer, order_no)
    payment = await settlement.start_payment(ctx, buyer, order_no)
    # Calling a sale off marks it cancelled, then closes its pending orders in later transactions
    # (services/sales/events.cancel_event): a payment settled in between must see the line's sale.
    async with ctx.transaction() as tx:
        await sales_repo.set_state(tx.conn, cream.event_id, EventState.CANCELLED, tx.now)
    amount = int(Decimal(payment.amount) * 100)
    report = TradeReport(payment.out_trade_no, "T-called-off", TradeState.PAID, amount)
    assert await settlement.settle(ctx, report, source="notification") == "refund"
    # Refunded, and the order is closed with the sale: none of its lines is sold.
    assert (await order_service.get_for_buyer(ctx, buyer, order_no)).status == "cancelled"
    async with ctx.read() as conn:
        reasons = await conn.scalars(
            sa.select(refunds.c.reason)
            .join(payments, payments.c.id == refunds.c.payment_id)
            .where(payments.c.out_trade_no == payment.out_trade_no)
        )
        assert list(reasons) == ["sale_cancelled"]


# --- returns and desk refunds, end to end ---------------------------------------------------------


@pytest.fixture
async def tracking(database_settings: Settings) -> AsyncIterator[Tracking]:
    backend = "sqlite" if database_settings.is_sqlite else "postgres"
    if backend != BACKENDS[0]:
        pytest.skip(f"the four parties' whole way: run on {BACKENDS[0]} only, to keep the suite's time")
    async with tracking_world(database_settings) as world:
        yield world


async def _paid_basket(tracking: Tracking) -> tuple[str, Sale, Sale]:
    """A basket order of one milk and two cream, checked out and paid at the sandbox by its buyer."""
    parties = tracking.parties
    ctx = parties.ctx
    milk, cream = await _two_items(ctx)
    [(buyer, _)] = await make_buyers(ctx, 1)
    order_no = await _basket_order(ctx, buyer, milk, cream, tag=str(buyer))
    await _checked_out(ctx, buyer, order_no)
    payment = await settlement.start_payment(ctx, buyer, order_no)
    async with httpx.AsyncClient(timeout=HTTP_TIMEOUT) as browser:
        assert (await browser.get(payment.redirect_url)).status_code == 200
    paid = await parties.pay.post(
        f"/sandbox/trades/{payment.out_trade_no}/pay",
        json={"payer_name": PAYER[0], "payer_id_number": PAYER[1]},
    )
    assert paid.status_code == 200, paid.text
    await parties.until(lambda: parties.state(order_no), "pending")
    return order_no, milk, cream


async def _delivered(tracking: Tracking, order_no: str) -> str:
    """Shipped as one parcel and delivered; the buyer's token."""
    await tracking.parties.work_until(order_no, "shipped")
    logistics_no = str((await tracking.parties.detail(order_no))["logistics_no"])
    for milestone in ("in_transit", "delivered"):
        assert (await tracking.scan(logistics_no, milestone)).status_code == 200
    token = await tracking.buyer_token(order_no)

    async def known() -> str:
        return "yes" if (await tracking.shipment(order_no, token))["delivered"] else "no"

    await tracking.parties.until(known, "yes")
    return token


async def _year_total(ctx: Context, order_no: str) -> int:
    async with ctx.read() as conn:
        id_hash = await conn.scalar(sa.select(orders.c.buyer_id_hash).where(orders.c.order_no == order_no))
        total = await conn.scalar(
            sa.select(sa.func.sum(identity_year_totals.c.paid_fen)).where(
                identity_year_totals.c.id_hash == id_hash
            )
        )
    return int(total or 0)


async def _money(ctx: Context, order_no: str) -> tuple[int, int]:
    """(what the buyer paid, the dutiable value the annual quota counts: goods and freight)."""
    async with ctx.read() as conn:
        row = (
            await conn.execute(
                sa.select(orders.c.total_fen, orders.c.goods_value_fen, orders.c.freight_fen).where(
                    orders.c.order_no == order_no
                )
            )
        ).one()
    return int(row.total_fen), int(row.goods_value_fen + row.freight_fen)


async def _refunds_of(ctx: Context, order_no: str) -> list[tuple[str, int, str]]:
    """(reason, amount, status) of every refund of the order's payments."""
    async with ctx.read() as conn:
        rows = await conn.execute(
            sa.select(refunds.c.reason, refunds.c.amount_fen, refunds.c.status)
            .join(payments, payments.c.id == refunds.c.payment_id)
            .join(orders, orders.c.id == payments.c.order_id)
            .where(orders.c.order_no == order_no)
            .order_by(refunds.c.id)
        )
        return [(str(r), int(a), str(s)) for r, a, s in rows]


async def _sold(ctx: Context, *sales: Sale) -> dict[int, int]:
    """Units taken per item in the stock engine (paid and reserved)."""
    taken = {}
    for sale in sales:
        counters = await ctx.stock.read_counters(sale.item_id)
        assert counters is not None
        taken[sale.item_id] = counters.taken
    return taken


async def _refunds_sent(tracking: Tracking, order_no: str, count: int) -> None:
    async def sent() -> str:
        await run_once(tracking.parties.ctx)
        statuses = [s for _, _, s in await _refunds_of(tracking.parties.ctx, order_no)]
        return "yes" if statuses == ["succeeded"] * count else "no"

    await tracking.parties.until(sent, "yes")


async def test_a_basket_order_returned_is_declared_with_every_line_and_refunded_once_with_its_quota_back(
    tracking: Tracking,
) -> None:
    parties = tracking.parties
    ctx = parties.ctx
    order_no, milk, cream = await _paid_basket(tracking)
    token = await _delivered(tracking, order_no)
    paid, dutiable = await _money(ctx, order_no)
    quota_before = await _year_total(ctx, order_no)
    sold_before = await _sold(ctx, milk, cream)
    assert sold_before == {milk.item_id: 1, cream.item_id: 2}

    asked = await parties.platform.post(
        f"/api/v1/orders/{order_no}/returns", json={"reason": "包装破损"}, headers=_as_buyer(token)
    )
    assert asked.status_code == 201, asked.text
    listed = (await parties.platform.get("/api/v1/aftersales", params={"state": "requested"})).json()
    [mine] = [r for r in listed if r["order_no"] == order_no]
    assert (await parties.platform.post(f"/api/v1/aftersales/{mine['id']}/approve")).status_code == 200

    async def returned() -> str:
        answer = await parties.platform.get(f"/api/v1/orders/{order_no}/returns", headers=_as_buyer(token))
        return str(answer.json()["state"])

    await parties.until(returned, "refunded", work=True)
    await _refunds_sent(tracking, order_no, 1)
    for _ in range(2):  # more passes change nothing
        await run_once(ctx)
    assert await _refunds_of(ctx, order_no) == [("returned", paid, "succeeded")]
    assert await _year_total(ctx, order_no) == quota_before - dutiable
    # The CEB625 names every line of the parcel, each unit once; returned goods do not go back on sale.
    detail = await parties.detail(order_no)
    [ceb625] = [m for m in detail["messages"] if m["kind"] == "CEB625"]
    body = (await parties.platform.get(f"/api/v1/declarations/{order_no}/messages/{ceb625['id']}")).content
    assert validate(body) == []
    assert declaring_world._texts(body, "gnum") == ["1", "2"]
    assert [Decimal(q) for q in declaring_world._texts(body, "qty")] == [1, 2]
    assert await _sold(ctx, milk, cream) == sold_before
    assert (await parties.events(order_no)).count("aftersale.refunded") == 1


async def test_a_desk_refund_of_a_basket_order_pays_back_once_and_leaves_the_quota_of_goods_kept(
    tracking: Tracking,
) -> None:
    parties = tracking.parties
    ctx = parties.ctx
    order_no, milk, cream = await _paid_basket(tracking)
    await _delivered(tracking, order_no)
    paid, _ = await _money(ctx, order_no)
    quota_before = await _year_total(ctx, order_no)

    part = Decimal(paid - 1000) / 100  # all but 10 CNY: a goodwill refund of most of the parcel
    body = {"reason": "两件奶油罐体凹陷，买家保留商品", "amount": str(part)}
    given = await parties.platform.post(f"/api/v1/admin/orders/{order_no}/refund", json=body)
    assert given.status_code == 200, given.text
    assert given.json()["amount"] == f"{part:.2f}"
    again = await parties.platform.post(f"/api/v1/admin/orders/{order_no}/refund", json=body)
    assert (again.status_code, again.json()["code"]) == (409, "already_refunded")
    await _refunds_sent(tracking, order_no, 1)
    assert await _refunds_of(ctx, order_no) == [("staff_refund", paid - 1000, "succeeded")]
    # The goods stay with the buyer: they were imported, so the year's quota keeps them, and every
    # line's units stay sold.
    assert await _year_total(ctx, order_no) == quota_before
    assert await _sold(ctx, milk, cream) == {milk.item_id: 1, cream.item_id: 2}
    events = await parties.events(order_no)
    assert events.count("refund.requested") == 1 and events.count("refund.succeeded") == 1


def _as_buyer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}
