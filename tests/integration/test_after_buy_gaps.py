"""What a buyer is told after the buy, where issue 18 had gaps: messages follow the storefront's
language switch (and the page's language at registration and first log-in); a cancellation customs
refused to withdraw is told once, in the buyer's language, unless turned off; the order page cancels
an unpaid order, or a paid one customs has not released, after a confirmation; and registering mails
a welcome (or, for a taken address, a note to its owner) over the notifier's SMTP channel."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal

import httpx
import pytest
import sqlalchemy as sa

from flashport.adapters.db.notify_schema import notification_preferences
from flashport.adapters.db.schema import declarations, orders, payments, refunds, users
from flashport.adapters.notify.channels import Channels, SandboxSms, SmtpMailer
from flashport.app import create_app
from flashport.domain.errors import InvalidInput
from flashport.domain.notifications import Kind, Preferences
from flashport.domain.payments import TradeReport, TradeState
from flashport.services.accounts import identities
from flashport.services.accounts import users as accounts
from flashport.services.aftersales import withdrawals
from flashport.services.context import Context
from flashport.services.notify import preferences
from flashport.services.orders import checkout
from flashport.services.orders import lifecycle as order_service
from flashport.services.payments import settlement
from flashport.services.sales import buying
from flashport.settings import Settings
from tests.conftest import BACKENDS
from tests.integration.test_declarations import CONSIGNEE, PAYER
from tests.integration.test_notifications import (
    an_order,
    email_of,
    notify,
    notify_until,
    record,
    rows,
)
from tests.integration.test_web_pages import CSRF, log_in_as
from tests.integration.test_withdrawals import _accepted_order, _cancel, _release_at_customs, _state
from tests.mailbox import Mailbox, smtp_server
from tests.sale_builder import make_buyers, make_sale
from tests.tracking_world import Tracking, tracking_world


def _client(ctx: Context, accept_language: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=create_app(ctx=ctx))
    headers = {"accept-language": accept_language}
    return httpx.AsyncClient(transport=transport, base_url="http://shop.test", headers=headers)


@pytest.fixture
async def mailbox(ctx: Context) -> AsyncIterator[Mailbox]:
    """A real SMTP server the notifier mails to, on a bound loopback socket."""
    async with smtp_server() as box:
        ctx.notify_channels = _channels(ctx, box)
        yield box


def arrived_to(box: Mailbox, address: str, count: int) -> Callable[[], Awaitable[bool]]:
    """``count`` messages to ``address`` came in. The database is shared by the tests: the notifier
    also sends what earlier tests left in the outbox, so a count of every message proves nothing."""

    async def check() -> bool:
        return len(box.to(address)) >= count

    return check


def _channels(ctx: Context, box: Mailbox) -> Channels:
    update = {"smtp_host": "127.0.0.1", "smtp_port": box.port, "smtp_tls": "none"}
    return Channels(SmtpMailer(ctx.settings.model_copy(update=update)), SandboxSms())


@pytest.fixture
async def web(ctx: Context) -> AsyncIterator[httpx.AsyncClient]:
    async with _client(ctx, "zh-CN,zh;q=0.9") as http:
        yield http


async def _csrf(web: httpx.AsyncClient, path: str) -> str:
    page = await web.get(path)
    marker = 'name="csrf_token" value="'
    start = page.text.index(marker) + len(marker)
    return page.text[start : page.text.index('"', start)]


# --- 1. the messages' language follows the storefront's --------------------------------------------


async def test_a_buyer_who_switches_the_site_language_gets_messages_in_it_from_then_on(
    ctx: Context, web: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    buyer, order_no = await an_order(ctx)
    await preferences.save(ctx, buyer, "zh-CN", "13800138000", ["delivered"])
    log_in_as(web, ctx, buyer)

    switched = await web.get("/language/en", params={"next": f"/orders/{order_no}"})
    assert switched.status_code == 303
    chosen = await preferences.of_buyer(ctx, buyer)
    assert (chosen.language, chosen.mobile, {k.value for k in chosen.muted}) == (
        "en",
        "13800138000",
        {"delivered"},
    )
    await record(ctx, "order.paid", order_no, amount="99.00")
    address = await email_of(ctx, buyer)
    await notify_until(ctx, arrived_to(mailbox, address, 1), "the English mail")
    [english] = mailbox.to(await email_of(ctx, buyer))
    assert english["Content-Language"] == "en"
    assert english["Subject"] == f"Payment received for order {order_no}"

    assert (await web.get("/language/zh-CN")).status_code == 303
    await record(ctx, "order.shipped", order_no, logistics_no="SF1234567890")
    await notify_until(ctx, arrived_to(mailbox, address, 2), "the Chinese mail")
    chinese = mailbox.to(await email_of(ctx, buyer))[1]
    assert chinese["Content-Language"] == "zh-CN" and "发货" in chinese["Subject"]


async def test_a_visitors_switch_changes_no_account(ctx: Context, web: httpx.AsyncClient) -> None:
    [(buyer, _)] = await make_buyers(ctx, 1)
    assert (await web.get("/language/en")).status_code == 303
    async with ctx.read() as conn:
        count = sa.select(sa.func.count()).select_from(notification_preferences)
        assert await conn.scalar(count.where(notification_preferences.c.user_id == buyer)) == 0


async def test_registering_on_an_english_page_makes_english_messages(ctx: Context) -> None:
    email = f"lena-{uuid.uuid4().hex[:8]}@example.com"
    async with _client(ctx, "en-GB,en;q=0.9") as web:
        token = await _csrf(web, "/register")
        form = {"csrf_token": token, "name": "Lena", "email": email, "password": "long-enough-pw"}
        assert (await web.post("/register", data=form)).status_code == 303
    user = await _user_id(ctx, email)
    assert (await preferences.of_buyer(ctx, user)).language == "en"


async def test_registering_after_switching_to_chinese_makes_chinese_messages(ctx: Context) -> None:
    email = f"wei-{uuid.uuid4().hex[:8]}@example.com"
    async with _client(ctx, "en-GB,en;q=0.9") as web:  # an English browser, switched to Chinese
        await web.get("/language/zh-CN")
        token = await _csrf(web, "/register")
        form = {"csrf_token": token, "name": "Wei", "email": email, "password": "long-enough-pw"}
        assert (await web.post("/register", data=form)).status_code == 303
    user = await _user_id(ctx, email)
    saved = await preferences.of_buyer(ctx, user)
    assert saved.language == "zh-CN"


async def test_the_first_log_in_takes_the_pages_language_and_a_later_one_keeps_the_choice(
    ctx: Context,
) -> None:
    email = f"ann-{uuid.uuid4().hex[:8]}@example.com"
    await accounts.register(ctx, email=email, password="long-enough-pw", name="Ann")  # no page language
    user = await _user_id(ctx, email)
    form = {"email": email, "password": "long-enough-pw"}
    async with _client(ctx, "en-US,en;q=0.8") as web:
        assert (
            await web.post("/login", data={**form, "csrf_token": await _csrf(web, "/login")})
        ).status_code == 303
    assert (await preferences.of_buyer(ctx, user)).language == "en"

    await preferences.save(ctx, user, "zh-CN", None, [])  # chosen on the preferences page
    async with _client(ctx, "en-US,en;q=0.8") as web:
        assert (
            await web.post("/login", data={**form, "csrf_token": await _csrf(web, "/login")})
        ).status_code == 303
    assert (await preferences.of_buyer(ctx, user)).language == "zh-CN"


# --- 2. a refused withdrawal is told ----------------------------------------------------------------


async def test_a_refused_cancellation_can_be_turned_off_like_the_others(
    ctx: Context, mailbox: Mailbox
) -> None:
    buyer, order_no = await an_order(ctx)
    await preferences.save(ctx, buyer, "en", None, ["cancel_refused"])
    # As withdrawals._refused writes it when the release was read before the CEB623 could go.
    await record(ctx, "aftersale.withdrawal_refused", order_no, return_status=None, reason="released")
    await record(ctx, "order.paid", order_no, amount="99.00")
    await notify_until(ctx, arrived_to(mailbox, await email_of(ctx, buyer), 1), "the mail that is not muted")
    await notify(ctx)
    assert [m["Subject"] for m in mailbox.to(await email_of(ctx, buyer))] == [
        f"Payment received for order {order_no}"
    ]
    assert [(r.kind, r.status) for r in await rows(ctx, buyer)] == [
        ("cancel_refused", "muted"),
        ("paid", "sent"),
    ]


@pytest.fixture
async def tracking(database_settings: Settings) -> AsyncIterator[Tracking]:
    backend = "sqlite" if database_settings.is_sqlite else "postgres"
    if backend != BACKENDS[0]:
        pytest.skip(f"decided by the single window: run on {BACKENDS[0]} only")
    async with tracking_world(database_settings, hold_release=True) as world:
        yield world


async def test_a_withdrawal_customs_refuses_is_told_to_the_buyer_once_in_their_language(
    tracking: Tracking,
) -> None:
    parties = tracking.parties
    ctx = parties.ctx
    order_no, token = await _accepted_order(tracking)
    buyer = await _buyer_of(ctx, order_no)
    async with smtp_server() as box:
        ctx.notify_channels = _channels(ctx, box)
        await preferences.save(ctx, buyer, "en", None, [])
        assert (await _cancel(tracking, order_no, token)).status_code == 202
        # Customs' officer releases the list while the CEB623 is on its way: its CEB624 refuses.
        assert (await _release_at_customs(tracking, order_no)).status_code == 200
        assert await withdrawals.declare_requested(ctx) == 1
        await parties.until(lambda: _state(tracking, order_no, token), "refused", work=True)

        address = await email_of(ctx, buyer)

        async def told() -> str:
            subjects = [m["Subject"] for m in box.to(address)]
            return "yes" if f"Order {order_no} could not be cancelled" in subjects else "no"

        await parties.until(told, "yes", work=True)
        await parties.work_until(order_no, "shipped")
        for _ in range(3):  # more notifier passes over the same records: still one message
            await notify(ctx)
        [message] = [m for m in box.to(address) if "could not be cancelled" in m["Subject"]]
    text = message.get_content()
    assert message["Content-Language"] == "en"
    assert "because customs refused to withdraw the declaration" in text
    assert "your parcel ships as usual, and nothing is refunded" in text
    assert "Customs' words:" in text and "already_released" in text
    assert [(r.kind, r.status) for r in await rows(ctx, buyer) if r.kind == "cancel_refused"] == [
        ("cancel_refused", "sent")
    ]


async def _user_id(ctx: Context, email: str) -> int:
    async with ctx.read() as conn:
        return int(await conn.scalar(sa.select(users.c.id).where(users.c.email == email)))


async def _buyer_of(ctx: Context, order_no: str) -> int:
    async with ctx.read() as conn:
        return int(await conn.scalar(sa.select(orders.c.buyer_id).where(orders.c.order_no == order_no)))


# --- 4. cancelling from the order page ----------------------------------------------------------


async def _paid_order(ctx: Context) -> tuple[int, str]:
    """(buyer, order number) of an order checked out and paid (settled as the provider's notification
    would be): its declaration waits to be sent, so customs has accepted nothing yet."""
    sale = await make_sale(ctx, quantity=5)
    [(buyer, _)] = await make_buyers(ctx, 1)
    order_no = str((await buying.buy(ctx, buyer, sale.item_id, 1, "paid")).order["order_no"])
    identity = await identities.add_identity(ctx, buyer, *PAYER, "13700137000")
    await checkout.check_out(ctx, buyer, order_no, checkout.CheckoutForm(*CONSIGNEE, None, identity.id))
    payment = await settlement.start_payment(ctx, buyer, order_no)
    amount = int(Decimal(payment.amount) * 100)
    report = TradeReport(payment.out_trade_no, f"T-{order_no}", TradeState.PAID, amount)
    assert await settlement.settle(ctx, report, source="notification") == "pay_order"
    return buyer, order_no


async def test_an_unpaid_orders_cancel_asks_for_confirmation_and_needs_the_forms_token(
    ctx: Context, web: httpx.AsyncClient
) -> None:
    buyer, order_no = await an_order(ctx)
    log_in_as(web, ctx, buyer)
    page = (await web.get(f"/orders/{order_no}", headers={"accept-language": "en"})).text
    confirm = page[
        page.index("data-cancel-order") : page.index("</details>", page.index("data-cancel-order"))
    ]
    assert f'action="/orders/{order_no}/cancel"' in confirm and 'name="csrf_token"' in confirm
    assert "Its units go back on sale at once" in confirm and "Yes, cancel the order" in confirm
    forged = await web.post(f"/orders/{order_no}/cancel", data={"csrf_token": "forged"})
    assert forged.status_code == 403
    assert (await order_service.get_for_buyer(ctx, buyer, order_no)).status == "pending_payment"
    done = await web.post(f"/orders/{order_no}/cancel", data={"csrf_token": CSRF}, follow_redirects=True)
    assert "已取消" in done.text
    assert (await order_service.get_for_buyer(ctx, buyer, order_no)).status == "cancelled"


async def test_a_paid_order_customs_has_not_accepted_is_cancelled_from_its_page_and_refunded(
    ctx: Context, web: httpx.AsyncClient
) -> None:
    buyer, order_no = await _paid_order(ctx)
    log_in_as(web, ctx, buyer)
    page = (await web.get(f"/orders/{order_no}")).text  # a Chinese browser
    assert 'data-cancel-paid="refund_now"' in page and "取消此订单" in page
    assert f'action="/orders/{order_no}/cancellation"' in page and "确定取消订单" in page
    english = (await web.get(f"/orders/{order_no}", headers={"accept-language": "en"})).text
    assert "if you cancel now, your payment is refunded in full at once" in english

    forged = await web.post(f"/orders/{order_no}/cancellation", data={"csrf_token": "forged"})
    assert forged.status_code == 403
    done = await web.post(f"/orders/{order_no}/cancellation", data={"csrf_token": CSRF})
    assert done.status_code == 303 and done.headers["location"] == f"/orders/{order_no}"
    page = (await web.get(f"/orders/{order_no}")).text
    assert f"订单 {order_no} 已取消" in page and "货款将全额退还" in page
    assert "data-cancelled-refunded" in page and "data-cancel-paid" not in page
    async with ctx.read() as conn:
        reasons = list(
            await conn.scalars(
                sa.select(refunds.c.reason)
                .join(payments, payments.c.id == refunds.c.payment_id)
                .join(orders, orders.c.id == payments.c.order_id)
                .where(orders.c.order_no == order_no)
            )
        )
    assert reasons == ["buyer_cancelled"]
    again = await web.post(
        f"/orders/{order_no}/cancellation",
        data={"csrf_token": CSRF},
        headers={"accept-language": "en"},
        follow_redirects=True,
    )
    assert "This order is cancelled and refunded already." in again.text


async def test_a_released_order_offers_no_cancel_and_says_why_when_asked(
    ctx: Context, web: httpx.AsyncClient
) -> None:
    buyer, order_no = await _paid_order(ctx)
    async with ctx.transaction() as tx:
        await tx.conn.execute(
            declarations.update().where(declarations.c.order_no == order_no).values(state="released")
        )
    log_in_as(web, ctx, buyer)
    english = {"accept-language": "en"}
    assert "data-cancel-paid" not in (await web.get(f"/orders/{order_no}", headers=english)).text
    refused = await web.post(
        f"/orders/{order_no}/cancellation", data={"csrf_token": CSRF}, headers=english, follow_redirects=True
    )
    assert "Customs has released this parcel, so it can no longer be cancelled" in refused.text


# --- 5. a welcome at registration ----------------------------------------------------------------


async def _register(web: httpx.AsyncClient, email: str, name: str) -> None:
    form = {"csrf_token": await _csrf(web, "/register"), "name": name, "email": email}
    assert (await web.post("/register", data={**form, "password": "long-enough-pw"})).status_code == 303


async def test_registering_mails_a_welcome_in_the_pages_language_once(ctx: Context, mailbox: Mailbox) -> None:
    email = f"lena-{uuid.uuid4().hex[:8]}@example.com"
    async with _client(ctx, "en-GB,en;q=0.9") as web:
        await _register(web, email, "Lena")
    user = await _user_id(ctx, email)
    await notify_until(ctx, arrived_to(mailbox, email, 1), "the welcome")
    await notify(ctx)
    [welcome] = mailbox.to(email)
    assert welcome["Subject"] == "Welcome to Flashport, Lena" and welcome["Content-Language"] == "en"
    assert "Your account is ready" in welcome.get_content() and "/login" in welcome.get_content()
    assert [(r.kind, r.channel, r.status) for r in await rows(ctx, user)] == [("welcome", "email", "sent")]


async def test_registering_with_a_taken_address_mails_its_owner_and_no_welcome(
    ctx: Context, mailbox: Mailbox
) -> None:
    email = f"wei-{uuid.uuid4().hex[:8]}@example.com"
    await accounts.register(ctx, email=email, password="long-enough-pw", name="Wei")
    owner = await _user_id(ctx, email)
    async with _client(ctx, "zh-CN") as web:
        await _register(web, email, "Someone else")
    await notify_until(ctx, arrived_to(mailbox, email, 1), "the note to the owner")
    await notify(ctx)
    [note] = mailbox.to(email)
    assert note["Subject"] == "有人尝试用您的邮箱注册" and note["Content-Language"] == "zh-CN"
    assert [r.kind for r in await rows(ctx, owner)] == ["registration_attempt"]


async def test_account_mails_cannot_be_turned_off(ctx: Context) -> None:
    [(buyer, _)] = await make_buyers(ctx, 1)
    with pytest.raises(InvalidInput) as refused:
        await preferences.save(ctx, buyer, "en", None, ["welcome"])
    assert refused.value.code == "invalid_preferences"
    assert Preferences(muted=frozenset(Kind)).wants(Kind.REGISTRATION_ATTEMPT)
