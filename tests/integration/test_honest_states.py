"""The storefront says where a sale and a payment really stand (issue 17, point 3), in Chinese and in
English: a fully reserved sale is "all reserved, units may come back" with the time the next unpaid
order's window closes (home, event and item pages), never "ended"; a refused payment tells why and what
to do next, and the order does not look like it is simply awaiting payment; back from the provider's
page, a payment not yet settled shows as received and being confirmed, with no Pay button."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI

from flashport.adapters.db.schema import orders, payments, refunds
from flashport.app import create_app
from flashport.domain.accounts import Role
from flashport.domain.payments import TradeReport, TradeState
from flashport.services.accounts import identities
from flashport.services.context import Context
from flashport.services.orders import checkout
from flashport.services.orders import lifecycle as order_service
from flashport.services.payments import settlement
from flashport.services.sales import buying, events
from flashport.web import formatting, i18n
from flashport.web import session as web_session
from tests.factories import make_user
from tests.sale_builder import make_sale

CSRF = "test-csrf-token"
ENGLISH = {"accept-language": "en-GB,en;q=0.9"}
CHINESE = {"accept-language": "zh-CN,zh;q=0.9"}
LI_NA = ("李娜", "110105199003070025", "13700137000")


@pytest.fixture
def web_app(ctx: Context) -> FastAPI:
    return create_app(ctx=ctx)


@pytest.fixture
async def web(web_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=web_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://shop.test") as http:
        yield http


async def log_in_buyer(client: httpx.AsyncClient, ctx: Context) -> int:
    user_id, _ = await make_user(ctx, Role.BUYER)
    data = {"uid": user_id, "role": Role.BUYER.value, "name": "Test Buyer", "csrf": CSRF}
    client.cookies.set(web_session.COOKIE, web_session.encode(data, ctx.settings.keys.secret, 3600))
    return user_id


async def checked_out_order(ctx: Context, buyer: int, *, price_fen: int = 9900) -> tuple[int, str]:
    """A pending, checked-out order of one unit: (its sale's event id, its number)."""
    sale = await make_sale(ctx, quantity=5, limit=2, price_fen=price_fen)
    order_no = (await buying.buy(ctx, buyer, sale.item_id, 1, f"k-{sale.item_id}")).order["order_no"]
    mine = await identities.list_identities(ctx, buyer)
    identity = mine[0] if mine else await identities.add_identity(ctx, buyer, *LI_NA)
    form = checkout.CheckoutForm("王伟", "13800138000", "上海市浦东新区世纪大道100号", None, identity.id)
    await checkout.check_out(ctx, buyer, order_no, form)
    return sale.event_id, order_no


async def report(
    ctx: Context, out_trade_no: str, state: TradeState, amount_fen: int, paid_at: datetime | None = None
) -> str:
    """What the provider's signed notification would say, settled as the notification is."""
    paid = paid_at or (ctx.clock() if state is TradeState.PAID else None)
    trade = TradeReport(out_trade_no, f"T{out_trade_no}", state, amount_fen, paid)
    return await settlement.settle(ctx, trade, source="notification")


async def total_of(ctx: Context, order_no: str) -> int:
    async with ctx.read() as conn:
        return int(await conn.scalar(sa.select(orders.c.total_fen).where(orders.c.order_no == order_no)))


def card(html: str, order_no: str) -> str:
    """The order's card on a page, from its opening tag to the next card's (or the page's end)."""
    start = html.index(f'data-order-no="{order_no}"')
    following = html.find('class="order-card', start)
    return html[start : following if following > 0 else len(html)]


# --- a fully reserved sale ---------------------------------------------------------------------------


async def test_a_fully_reserved_sale_says_units_may_come_back_and_when_on_every_page(
    ctx: Context, web: httpx.AsyncClient
) -> None:
    sale = await make_sale(ctx, quantity=1, limit=1)
    buyer, _ = await make_user(ctx, Role.BUYER)
    order = (await buying.buy(ctx, buyer, sale.item_id, 1, "the-last-unit")).order
    deadline = order["payment_deadline"].astimezone(UTC)
    for headers, words, locale in [
        (ENGLISH, ("All reserved", "units may come back", "payment window closes at"), "en_GB"),
        (CHINESE, ("已被抢光", "可能重新开售", "付款时限于"), "zh_Hans_CN"),
    ]:
        at = formatting.china_time(deadline, locale)
        home = (await web.get("/", headers=headers)).text
        listed = home[home.index("live-heading") : home.index("upcoming-heading")]
        assert f'href="/events/{sale.event_id}"' in listed  # still among the sales on now, not gone
        assert "data-all-reserved" in listed and all(w in listed for w in words[:2]), listed
        assert f'<time datetime="{formatting.iso(deadline)}">{at}</time>' in listed
        event = (await web.get(f"/events/{sale.event_id}", headers=headers)).text
        assert "data-all-reserved" in event and words[2] in event
        assert f'<time datetime="{formatting.iso(deadline)}">{at}</time>' in event
        item = (await web.get(f"/items/{sale.item_id}", headers=headers)).text
        assert 'data-sale-state="sold_out"' in item and "data-sold-out-note" in item
        assert f'<time datetime="{formatting.iso(deadline)}">{at}</time>' in item


async def test_a_sold_out_item_of_a_sale_that_is_over_says_sold_out_not_that_units_may_come_back(
    ctx: Context, web: httpx.AsyncClient
) -> None:
    sale = await make_sale(ctx, quantity=1, limit=1)
    buyer, _ = await make_user(ctx, Role.BUYER)
    await buying.buy(ctx, buyer, sale.item_id, 1, "the-last-unit")
    live = (await web.get(f"/items/{sale.item_id}", headers=ENGLISH)).text
    assert "units may come back" in live
    real_clock = ctx.clock
    ctx.clock = lambda: real_clock() + timedelta(days=8)  # the week-long sale is over
    try:
        item = (await web.get(f"/items/{sale.item_id}", headers=ENGLISH)).text
        event = (await web.get(f"/events/{sale.event_id}", headers=ENGLISH)).text
        home = (await web.get("/", headers=ENGLISH)).text
    finally:
        ctx.clock = real_clock
    assert "units may come back" not in item and "Sold out</button>" in item
    assert "units may come back" not in event and "This sale has ended." in event
    assert f'href="/events/{sale.event_id}"' not in home


# --- refused payments ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "texts"),
    [
        (ENGLISH, ("Payment refused", "amount paid was not this order's total", "What to do: pay again")),
        (CHINESE, ("付款被拒", "支付金额与订单应付总额不符", "请在倒计时结束前")),
    ],
)
async def test_a_payment_of_the_wrong_amount_is_refused_with_its_reason_and_what_to_do(
    ctx: Context, web: httpx.AsyncClient, headers: dict[str, str], texts: tuple[str, ...]
) -> None:
    buyer = await log_in_buyer(web, ctx)
    _, order_no = await checked_out_order(ctx, buyer)
    started = await settlement.start_payment(ctx, buyer, order_no)
    assert await report(ctx, started.out_trade_no, TradeState.PAID, 990) == "refund"
    for page in ("/orders", f"/orders/{order_no}"):
        shown = card((await web.get(page, headers=headers)).text, order_no)
        assert 'data-status="pending_payment"' in shown
        assert all(text in shown for text in texts), shown
        assert 'data-payment-refused="amount_mismatch"' in shown and 'data-refund="' in shown
        assert ("Awaiting payment" if headers is ENGLISH else "待付款") not in shown
    # Paying again is what to do: the list offers the Pay button once more.
    listed = card((await web.get("/orders", headers=headers)).text, order_no)
    assert "data-pay-button" in listed


async def test_a_closed_payment_and_a_refund_to_a_payer_who_was_not_the_buyer_say_so(
    ctx: Context, web: httpx.AsyncClient
) -> None:
    buyer = await log_in_buyer(web, ctx)
    _, closed_no = await checked_out_order(ctx, buyer)
    started = await settlement.start_payment(ctx, buyer, closed_no)
    assert await report(ctx, started.out_trade_no, TradeState.CLOSED, 0) == "close_payment"
    shown = card((await web.get("/orders", headers=ENGLISH)).text, closed_no)
    assert 'data-payment-refused="closed"' in shown and "closed it without charging you" in shown
    assert "Payment refused" in shown and "Awaiting payment" not in shown

    # A payer who was not the buyer, refunded as payer_mismatch (as settlement did before the provider
    # enforced payer = buyer at payment time): the order page says who must pay.
    _, other_no = await checked_out_order(ctx, buyer)
    paid = await settlement.start_payment(ctx, buyer, other_no)
    async with ctx.transaction() as tx:
        await tx.conn.execute(payments.update().where(payments.c.id == paid.id).values(status="closed"))
        await tx.conn.execute(
            refunds.insert().values(
                payment_id=paid.id,
                out_request_no=f"R{other_no}",
                provider_trade_no=f"T{other_no}",
                amount_fen=await total_of(ctx, other_no),
                reason="payer_mismatch",
                status="succeeded",
                next_attempt_at=tx.now,
                refunded_at=tx.now,
                created_at=tx.now,
            )
        )
    for headers, texts in [
        (ENGLISH, ("someone other than the buyer", "refunded in full", "in the buyer's own name")),
        (CHINESE, ("付款人不是结算时填写的订购人", "已全额原路退回", "订购人本人名下")),
    ]:
        shown = card((await web.get(f"/orders/{other_no}", headers=headers)).text, other_no)
        assert 'data-payment-refused="payer_mismatch"' in shown and 'data-refund="done"' in shown
        assert all(text in shown for text in texts), shown


async def test_a_payment_after_the_window_closed_says_it_is_refunded_and_to_buy_again(
    ctx: Context, web: httpx.AsyncClient
) -> None:
    buyer = await log_in_buyer(web, ctx)
    _, order_no = await checked_out_order(ctx, buyer)
    started = await settlement.start_payment(ctx, buyer, order_no)
    real_clock = ctx.clock
    ctx.clock = lambda: real_clock() + timedelta(minutes=21)
    try:
        assert await order_service.expire_unpaid_orders(ctx) == 1
        late = ctx.clock()
        amount = await total_of(ctx, order_no)
        assert await report(ctx, started.out_trade_no, TradeState.PAID, amount, late) == "refund"
        for headers, texts in [
            (ENGLISH, ("Payment arrived too late", "refunded in full", "buy it again")),
            (CHINESE, ("付款晚于时限", "全额原路退回", "再次购买")),
        ]:
            shown = card((await web.get("/orders", headers=headers)).text, order_no)
            assert 'data-payment-refused="late_payment"' in shown, shown
            assert all(text in shown for text in texts), shown
    finally:
        ctx.clock = real_clock


async def test_a_called_off_sale_says_so_instead_of_you_cancelled(
    ctx: Context, web: httpx.AsyncClient
) -> None:
    buyer = await log_in_buyer(web, ctx)
    event_id, unpaid_no = await checked_out_order(ctx, buyer)
    await events.cancel_event(ctx, event_id)
    for headers, texts in [
        (ENGLISH, ("Sale called off", "Nothing was charged", "What to do")),
        (CHINESE, ("活动已取消", "未扣款", "您无需操作")),
    ]:
        shown = card((await web.get("/orders", headers=headers)).text, unpaid_no)
        assert 'data-status="cancelled"' in shown and "data-sale-called-off" in shown
        assert all(text in shown for text in texts), shown
        assert "You cancelled this order" not in shown and "您已取消" not in shown


async def test_a_payment_over_the_yearly_limit_cancels_the_order_and_says_why(
    ctx: Context, web: httpx.AsyncClient
) -> None:
    buyer = await log_in_buyer(web, ctx)
    _, order_no = await checked_out_order(ctx, buyer)
    started = await settlement.start_payment(ctx, buyer, order_no)
    # Checked out within the limit; by the time the money arrives the buyer's year has no room for it
    # (another order of the same identity paid meanwhile, say): 50.00 a year.
    ctx.settings = ctx.settings.model_copy(update={"annual_limit_fen": 5_000})
    amount = await total_of(ctx, order_no)
    assert await report(ctx, started.out_trade_no, TradeState.PAID, amount) == "refund"
    for headers, texts in [
        (ENGLISH, ("Over the yearly limit", "refunded in full", "1 January")),
        (CHINESE, ("超出年度限额", "全额原路退回", "1月1日")),
    ]:
        shown = card((await web.get("/orders", headers=headers)).text, order_no)
        assert 'data-status="cancelled"' in shown and 'data-payment-refused="annual_limit"' in shown
        assert all(text in shown for text in texts), shown
        assert "You cancelled this order" not in shown


# --- back from the provider's page ----------------------------------------------------------------------


async def test_back_from_paying_an_unsettled_payment_shows_received_and_no_pay_button(
    ctx: Context, web: httpx.AsyncClient
) -> None:
    buyer = await log_in_buyer(web, ctx)
    _, order_no = await checked_out_order(ctx, buyer)
    started = await web.post(f"/orders/{order_no}/pay", data={"csrf_token": CSRF})
    assert started.status_code == 303
    # The provider's return address: /orders with Alipay's return parameters (it says nothing of the
    # outcome; the signed notification has not been settled yet).
    back = f"/orders?out_trade_no={order_no}&trade_no=2026120322001&method=alipay.trade.page.pay.return"
    for headers, received in [(ENGLISH, "Payment received, confirming"), (CHINESE, "已收到付款，确认中")]:  # noqa: RUF001
        shown = card((await web.get(back, headers=headers)).text, order_no)
        assert "data-payment-confirming" in shown and received in shown, shown
        assert "data-pay-button" not in shown and "data-continue-payment" not in shown
        assert 'data-payment-pending="true"' in shown
        detail = (await web.get(f"/orders/{order_no}?out_trade_no={order_no}", headers=headers)).text
        assert "data-payment-confirming" in detail
        assert "data-pay-button" not in detail and "data-continue-payment" not in detail
    # Another order's return address, or none: the quiet "continue the payment" link, no "received".
    plain = card((await web.get("/orders", headers=ENGLISH)).text, order_no)
    assert "data-payment-confirming" not in plain and "data-continue-payment" in plain
    live = (await web.get("/live/orders", headers={"accept": "application/json"})).json()
    assert [o["payment_pending"] for o in live["orders"] if o["order_no"] == order_no] == [True]

    async with ctx.read() as conn:
        out_trade_no = await conn.scalar(
            sa.select(payments.c.out_trade_no).where(payments.c.order_no == order_no)
        )
    assert await report(ctx, out_trade_no, TradeState.PAID, await total_of(ctx, order_no)) == "pay_order"
    live = (await web.get("/live/orders", headers={"accept": "application/json"})).json()
    assert [(o["status"], o["payment_pending"]) for o in live["orders"] if o["order_no"] == order_no] == [
        ("paid", False)
    ]
    shown = card((await web.get(back, headers=ENGLISH)).text, order_no)
    assert 'data-status="paid"' in shown and "data-payment-confirming" not in shown
    # A second trade paying the same order: refunded, and the paid order's card says so.
    second = TradeReport(
        out_trade_no, "T-second", TradeState.PAID, await total_of(ctx, order_no), ctx.clock()
    )
    assert await settlement.settle(ctx, second, source="notification") == "refund"
    for headers, text in [(ENGLISH, "paid twice"), (CHINESE, "重复支付")]:
        shown = card((await web.get("/orders", headers=headers)).text, order_no)
        assert 'data-payment-refused="duplicate_payment"' in shown and text in shown, shown


def test_the_chinese_catalogue_is_the_one_these_tests_read() -> None:
    # The Chinese texts above are the catalogue's: a changed translation fails here first, not later.
    zh = i18n.translations(i18n.ZH.code)
    assert zh.gettext("Payment received, confirming") == "已收到付款，确认中"  # noqa: RUF001
    assert re.search("付款被拒", zh.gettext("Payment refused"))
