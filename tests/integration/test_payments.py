"""Payments over real HTTP: the platform and the sandbox provider each serve on a loopback port and
talk Alipay's protocol to each other (page pay, signed notifications, query, refund)."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit
from zoneinfo import ZoneInfo

import httpx
import pytest
import sqlalchemy as sa
from alipay import AliPay

from flashport.adapters.db.engine import create_engine
from flashport.adapters.db.schema import (
    orders,
    outbox,
    payment_exchanges,
    payment_notifications,
    payments,
    refunds,
    sale_items,
    stock,
)
from flashport.adapters.payments import alipay_protocol as proto
from flashport.app import create_app
from flashport.bootstrap import build_context, close_context
from flashport.domain.errors import Conflict
from flashport.sandbox_pay.app import create_sandbox_app
from flashport.sandbox_pay.settings import SandboxSettings
from flashport.services.accounts import identities
from flashport.services.context import Context
from flashport.services.orders import checkout
from flashport.services.orders import lifecycle as order_service
from flashport.services.payments import settlement as payment_service
from flashport.services.payments.views import StartedPayment
from flashport.services.sales import buying, events
from flashport.settings import Settings
from tests.conftest import REDIS_URL, _delete_redis_prefix, _empty_all_tables, _require_redis
from tests.sale_builder import make_buyers, make_sale
from tests.servers import bound_socket, serving_all
from tests.waiting import HTTP_TIMEOUT, eventually

PAYER = ("李娜", "110105199003070025")
BUYER_PHONE = "13700137000"  # the buyer's own, declared as buyerTelephone (the consignee differs)
OTHER = ("张伟", "11010519491231002X")  # a real person too, but not the buyer


@dataclass
class World:
    ctx: Context
    sandbox: httpx.AsyncClient
    platform_url: str
    settings: Settings

    def key_file(self, name: str) -> str:
        return (self.settings.data_dir / "sandbox-pay" / name).read_text()

    def provider_key(self) -> str:
        return (self.settings.data_dir / "sandbox-pay" / "provider_private.pem").read_text()

    def merchant_key(self) -> str:
        return (self.settings.data_dir / "sandbox-pay" / "merchant_private.pem").read_text()

    async def order_status(self, order_no: str) -> str:
        async with self.ctx.read() as conn:
            return str(await conn.scalar(sa.select(orders.c.status).where(orders.c.order_no == order_no)))

    async def wait_for(self, order_no: str, status: str) -> None:
        async def reached() -> bool:
            return await self.order_status(order_no) == status

        await eventually(reached, what=f"order {order_no} to become {status}")

    async def events(self, order_no: str) -> list[str]:
        async with self.ctx.read() as conn:
            return list(
                (
                    await conn.scalars(
                        sa.select(outbox.c.type)
                        .where(outbox.c.subject == f"order:{order_no}")
                        .order_by(outbox.c.id)
                    )
                ).all()
            )

    async def new_order(
        self, buyer: int | None = None, *, check_out: bool = True
    ) -> tuple[int, dict[str, Any]]:
        """A pending order of 99.00 (general goods, so 9.01 of tax once checked out as PAYER)."""
        sale = await make_sale(self.ctx, quantity=5, limit=2, price_fen=9900)
        if buyer is None:
            [(buyer, _)] = await make_buyers(self.ctx, 1)
        order = (await buying.buy(self.ctx, buyer, sale.item_id, 1, f"k-{sale.item_id}")).order
        if check_out:
            mine = await identities.list_identities(self.ctx, buyer)
            identity = (
                mine[0] if mine else await identities.add_identity(self.ctx, buyer, *PAYER, BUYER_PHONE)
            )
            await checkout.check_out(
                self.ctx,
                buyer,
                order["order_no"],
                checkout.CheckoutForm(
                    "王伟", "13800138000", "上海市浦东新区世纪大道100号", None, identity.id
                ),
            )
        return buyer, order

    async def open_checkout(self, payment: StartedPayment) -> None:
        """What the buyer's browser does first: open the provider's page (the trade starts there)."""
        async with httpx.AsyncClient(timeout=HTTP_TIMEOUT) as browser:
            page = await browser.get(payment.redirect_url)
        assert page.status_code == 200, page.text

    async def notify(self, fields: dict[str, str]) -> str:
        async with httpx.AsyncClient(timeout=HTTP_TIMEOUT) as client:
            answer = await client.post(f"{self.platform_url}/api/v1/payments/alipay/notify", data=fields)
        return answer.text


@pytest.fixture(params=["sql", "redis"])
async def world(request: pytest.FixtureRequest, database_settings: Settings) -> AsyncIterator[World]:
    platform_sock, sandbox_sock = bound_socket(), bound_socket()  # kept: no other process takes the ports
    platform_port, sandbox_port = platform_sock.getsockname()[1], sandbox_sock.getsockname()[1]
    update: dict[str, Any] = {
        "payment_gateway_url": f"http://127.0.0.1:{sandbox_port}/gateway.do",
        "payment_notify_url": f"http://127.0.0.1:{platform_port}/api/v1/payments/alipay/notify",
        "payment_return_url": f"http://127.0.0.1:{platform_port}/orders",
        "payment_recheck_seconds": 0,
        "annual_limit_fen": 15_000,  # 150.00: one 108.01 order fits in a year, a second does not
    }
    prefix = f"fpp{uuid.uuid4().hex[:10]}"  # this test's own Redis keys, deleted afterwards
    if request.param == "redis":
        await _require_redis()
        update.update(redis_url=REDIS_URL, redis_prefix=prefix)
    settings = database_settings.model_copy(update=update)
    engine = create_engine(settings)
    await _empty_all_tables(engine)
    await engine.dispose()
    ctx = await build_context(settings)
    sandbox_app = create_sandbox_app(
        SandboxSettings(data_dir=settings.data_dir, notify_schedule=[0.2, 0.4, 0.8])
    )
    try:
        apps = {"platform": (create_app(ctx=ctx), platform_sock), "sandbox": (sandbox_app, sandbox_sock)}
        async with (
            serving_all(apps) as url,
            httpx.AsyncClient(timeout=HTTP_TIMEOUT, base_url=url["sandbox"]) as sandbox,
        ):
            yield World(ctx, sandbox, url["platform"], settings)
    finally:
        await close_context(ctx)
        if request.param == "redis":
            await _delete_redis_prefix(prefix)


async def _trade(world: World, out_trade_no: str) -> dict[str, Any]:
    answer = await world.sandbox.get(f"/sandbox/trades/{out_trade_no}")
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


async def test_a_buyer_pays_on_the_hosted_page_within_the_window_and_the_order_is_paid_once(
    world: World,
) -> None:
    buyer, order = await world.new_order()
    checkout_ = await payment_service.start_payment(world.ctx, buyer, order["order_no"])
    again = await payment_service.start_payment(world.ctx, buyer, order["order_no"])
    assert again.id == checkout_.id  # one payment per order
    async with httpx.AsyncClient(timeout=HTTP_TIMEOUT) as browser:
        page = await browser.get(checkout_.redirect_url)
        assert page.status_code == 200 and "108.01" in page.text
        trade = await _trade(world, checkout_.out_trade_no)
        confirmed = await browser.post(
            f"{world.sandbox.base_url}/pay/{trade['trade_no']}/confirm",
            data={"payer_name": PAYER[0], "payer_id_number": PAYER[1]},
        )
    assert confirmed.status_code in (200, 303)
    await world.wait_for(order["order_no"], "paid")
    async with world.ctx.read() as conn:
        payment = (await conn.execute(sa.select(payments).where(payments.c.id == checkout_.id))).one()
        item = (
            await conn.execute(sa.select(sale_items).where(sale_items.c.id == order["sale_item_id"]))
        ).one()
    assert payment.status == "succeeded" and payment.provider_trade_no == trade["trade_no"]
    assert payment.payer_name == PAYER[0] and payment.payer_id_masked == "1101**********0025"
    assert world.ctx.vault is not None and world.ctx.vault.open(payment.payer_id_cipher) == PAYER[1]
    assert PAYER[1] not in str(payment.payer_id_cipher)
    events = await world.events(order["order_no"])
    assert events.count("order.paid") == 1 and events.count("payment.succeeded") == 1
    if world.ctx.stock is not None and world.ctx.stock.name == "sql":
        assert (item.reserved, item.sold) == (0, 1)  # the unit moved from reserved to sold


async def test_a_declined_payment_closes_the_trade_and_the_buyer_can_pay_anew(world: World) -> None:
    buyer, order = await world.new_order()
    checkout_ = await payment_service.start_payment(world.ctx, buyer, order["order_no"])
    await world.open_checkout(checkout_)
    trade = await _trade(world, checkout_.out_trade_no)
    await world.sandbox.post(f"/pay/{trade['trade_no']}/decline")

    async def closed() -> bool:
        async with world.ctx.read() as conn:
            status = await conn.scalar(sa.select(payments.c.status).where(payments.c.id == checkout_.id))
        return status == "closed"

    await eventually(closed, what="the decline to reach the platform")
    assert await world.order_status(order["order_no"]) == "pending_payment"
    second = await payment_service.start_payment(world.ctx, buyer, order["order_no"])
    assert second.id != checkout_.id and second.out_trade_no == f"{order['order_no']}-2"


async def test_a_forged_notification_is_rejected_stored_and_changes_nothing(world: World) -> None:
    buyer, order = await world.new_order()
    checkout_ = await payment_service.start_payment(world.ctx, buyer, order["order_no"])
    forged = proto.signed_notification(
        _notification(world, checkout_.out_trade_no, "108.01"),
        proto.load_private_key(world.merchant_key()),
    )  # not the provider's key
    assert await world.notify(forged) == "failure"
    tampered = proto.signed_notification(
        _notification(world, checkout_.out_trade_no, "108.01"),
        proto.load_private_key(world.provider_key()),
    )
    tampered["trade_status"] = "TRADE_FINISHED"
    tampered["total_amount"] = "0.01"
    assert await world.notify(tampered) == "failure"
    assert await world.order_status(order["order_no"]) == "pending_payment"
    async with world.ctx.read() as conn:
        stored = (await conn.execute(sa.select(payment_notifications))).all()
    assert [(n.signature_valid, n.outcome) for n in stored] == [(False, "rejected"), (False, "rejected")]
    assert "order.paid" not in await world.events(order["order_no"])


async def test_a_payment_of_the_wrong_amount_does_not_pay_the_order(world: World) -> None:
    buyer, order = await world.new_order()
    checkout_ = await payment_service.start_payment(world.ctx, buyer, order["order_no"])
    wrong = proto.signed_notification(
        _notification(world, checkout_.out_trade_no, "9.90"), proto.load_private_key(world.provider_key())
    )
    assert await world.notify(wrong) == "success"  # authentic: acknowledged, but not accepted as payment
    assert await world.order_status(order["order_no"]) == "pending_payment"
    async with world.ctx.read() as conn:
        note = (await conn.execute(sa.select(payment_notifications))).one()
        refund = (await conn.execute(sa.select(refunds))).one()
    assert (note.signature_valid, note.outcome) == (True, "refund")
    assert (refund.reason, refund.amount_fen) == ("amount_mismatch", 990)


async def test_duplicate_and_concurrent_notifications_pay_the_order_exactly_once(world: World) -> None:
    buyer, order = await world.new_order()
    checkout_ = await payment_service.start_payment(world.ctx, buyer, order["order_no"])
    signed = proto.signed_notification(
        _notification(world, checkout_.out_trade_no, "108.01"),
        proto.load_private_key(world.provider_key()),
    )
    answers = await asyncio.gather(*[world.notify(signed) for _ in range(12)])
    assert answers == ["success"] * 12
    await world.wait_for(order["order_no"], "paid")
    assert (await world.notify(signed)) == "success"  # and once more, late
    events = await world.events(order["order_no"])
    assert events.count("order.paid") == 1 and events.count("payment.succeeded") == 1
    async with world.ctx.read() as conn:
        outcomes = (await conn.scalars(sa.select(payment_notifications.c.outcome))).all()
    assert sorted(outcomes).count("pay_order") == 1 and len(outcomes) == 13


async def test_the_provider_resending_a_notification_is_harmless(world: World) -> None:
    buyer, order = await world.new_order()
    checkout_ = await payment_service.start_payment(world.ctx, buyer, order["order_no"])
    await world.open_checkout(checkout_)
    paid = await world.sandbox.post(
        f"/sandbox/trades/{checkout_.out_trade_no}/pay",
        json={"payer_name": PAYER[0], "payer_id_number": PAYER[1]},
    )
    assert paid.status_code == 200, paid.text
    await world.wait_for(order["order_no"], "paid")
    assert (await world.sandbox.post(f"/sandbox/trades/{checkout_.out_trade_no}/renotify")).status_code == 200

    async def resent() -> bool:
        async with world.ctx.read() as conn:
            return await conn.scalar(sa.select(sa.func.count()).select_from(payment_notifications)) >= 2

    await eventually(resent, what="the resent notification to arrive")
    assert (await world.events(order["order_no"])).count("order.paid") == 1


async def test_a_lost_notification_is_recovered_by_querying_the_provider(world: World) -> None:
    buyer, order = await world.new_order()
    checkout_ = await payment_service.start_payment(world.ctx, buyer, order["order_no"])
    await world.open_checkout(checkout_)
    paid = await world.sandbox.post(
        f"/sandbox/trades/{checkout_.out_trade_no}/pay",
        json={"payer_name": PAYER[0], "payer_id_number": PAYER[1], "notify": False},
    )
    assert paid.status_code == 200, paid.text
    # The provider queued no notification at all, so none can still be on its way.
    assert (await _trade(world, checkout_.out_trade_no))["deliveries"] == []
    assert await world.order_status(order["order_no"]) == "pending_payment"  # nothing came
    assert await payment_service.recheck_pending_payments(world.ctx) == 1
    assert await world.order_status(order["order_no"]) == "paid"
    assert await payment_service.recheck_pending_payments(world.ctx) == 0


async def test_a_payment_after_expiry_is_refunded_and_does_not_revive_the_order(world: World) -> None:
    buyer, order = await world.new_order()
    checkout_ = await payment_service.start_payment(world.ctx, buyer, order["order_no"])
    await world.open_checkout(checkout_)
    real_clock = world.ctx.clock
    world.ctx.clock = lambda: real_clock() + timedelta(minutes=21)
    assert await order_service.expire_unpaid_orders(world.ctx) == 1
    world.ctx.clock = real_clock
    with pytest.raises(Conflict):
        await payment_service.start_payment(
            world.ctx, buyer, order["order_no"]
        )  # cannot pay an expired order
    paid = await world.sandbox.post(
        f"/sandbox/trades/{checkout_.out_trade_no}/pay",
        json={"payer_name": PAYER[0], "payer_id_number": PAYER[1]},
    )
    assert paid.status_code == 200, paid.text

    async def refunded() -> Any:
        async with world.ctx.read() as conn:
            refund = (await conn.execute(sa.select(refunds))).first()
        return refund if refund is not None and refund.status == "succeeded" else None

    refund = await eventually(refunded, what="a successful refund")
    assert (refund.reason, refund.amount_fen) == ("late_payment", 10801)
    assert await world.order_status(order["order_no"]) == "expired"
    events = await world.events(order["order_no"])
    assert "order.paid" not in events
    assert events.count("refund.requested") == 1 and events.count("refund.succeeded") == 1
    trade = await _trade(world, checkout_.out_trade_no)
    assert trade.get("refunded_amount", trade.get("refund_fee")) in ("108.01", 10801)


async def test_a_standard_notification_signed_by_a_third_party_alipay_library_pays_the_order(
    world: World,
) -> None:
    """Alipay's real ``trade_status_sync`` carries no payer identity: settling must not need one."""
    buyer, order = await world.new_order()
    checkout_ = await payment_service.start_payment(world.ctx, buyer, order["order_no"])
    sdk = AliPay(  # the library holding the provider's key signs exactly as Alipay does
        appid=world.settings.payment_app_id,
        app_notify_url=None,
        app_private_key_string=world.provider_key(),
        alipay_public_key_string=(
            world.settings.data_dir / "sandbox-pay" / "provider_public.pem"
        ).read_text(),
        sign_type="RSA2",
    )
    fields = _notification(world, checkout_.out_trade_no, "108.01")
    assert not {name for name in fields if name.startswith("payer")}  # Alipay's standard fields only
    signed = dict(parse_qsl(sdk.sign_data(dict(fields))))  # the form Alipay posts, "sign" included
    signed["sign_type"] = "RSA2"  # sent alongside, never signed
    assert await world.notify(signed) == "success"
    await world.wait_for(order["order_no"], "paid")
    async with world.ctx.read() as conn:
        stored = (await conn.execute(sa.select(payment_notifications))).one()
        refunded = await conn.scalar(sa.select(sa.func.count()).select_from(refunds))
        payment = (await conn.execute(sa.select(payments).where(payments.c.id == checkout_.id))).one()
    assert (stored.signature_valid, stored.outcome) == (True, "pay_order")
    assert refunded == 0 and payment.status == "succeeded"
    # The payer on record is the buyer the trade was opened for: nobody else could pay it.
    assert (payment.payer_name, payment.payer_id_masked) == (PAYER[0], "1101**********0025")


def _notification(world: World, out_trade_no: str, amount: str) -> dict[str, str]:
    """A ``trade_status_sync`` notification with Alipay's standard fields, unsigned."""
    return {
        "notify_time": "2026-11-25 20:00:01",
        "notify_type": "trade_status_sync",
        "notify_id": f"test-{out_trade_no}",
        "app_id": world.settings.payment_app_id,
        "auth_app_id": world.settings.payment_app_id,
        "charset": "utf-8",
        "version": "1.0",
        "trade_no": f"2026{abs(hash(out_trade_no)) % 10**12:012d}",
        "out_trade_no": out_trade_no,
        "seller_id": "2088102000000001",
        "buyer_id": "2088102177846880",
        "trade_status": "TRADE_SUCCESS",
        "total_amount": amount,
        "receipt_amount": amount,
        "buyer_pay_amount": amount,
        "subject": "Flashport order",
        "gmt_create": "2026-11-25 19:59:30",
        "gmt_payment": proto.timestamp(datetime.now(ZoneInfo("Asia/Shanghai"))),
    }


async def test_an_order_must_be_checked_out_before_it_can_be_paid(world: World) -> None:
    buyer, order = await world.new_order(check_out=False)
    with pytest.raises(Conflict) as refused:
        await payment_service.start_payment(world.ctx, buyer, order["order_no"])
    assert refused.value.code == "checkout_required"


async def test_the_trade_is_opened_for_the_checked_out_buyer_alone(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    buyer, order = await world.new_order()
    checkout_ = await payment_service.start_payment(world.ctx, buyer, order["order_no"])
    params = dict(parse_qsl(urlsplit(checkout_.redirect_url).query))
    assert params["method"] == "alipay.trade.page.pay"
    assert proto.verify_request(params, proto.load_public_key(world.key_file("merchant_public.pem")))
    biz = json.loads(params["biz_content"])
    assert biz["ext_user_info"] == {
        "name": PAYER[0],
        "cert_type": "IDENTITY_CARD",
        "cert_no": PAYER[1],
        "need_check_info": "T",
    }
    # Opened from the vault for the provider alone: in no log line, nowhere in the platform's records.
    assert PAYER[1] not in caplog.text
    async with world.ctx.read() as conn:
        stored = [dict(row._mapping) for row in (await conn.execute(sa.select(payments))).all()]
        emitted = (await conn.scalars(sa.select(outbox.c.payload))).all()
    assert PAYER[1] not in repr(stored) + repr(emitted)


async def test_the_sandbox_refuses_a_payer_who_is_not_the_buyer_and_the_buyer_can_still_pay(
    world: World,
) -> None:
    buyer, order = await world.new_order()
    checkout_ = await payment_service.start_payment(world.ctx, buyer, order["order_no"])
    async with httpx.AsyncClient(timeout=HTTP_TIMEOUT) as browser:
        page = await browser.get(checkout_.redirect_url)
        assert "only that person can pay it" in page.text
        trade = await _trade(world, checkout_.out_trade_no)
        confirm = f"{world.sandbox.base_url}/pay/{trade['trade_no']}/confirm"
        other = await browser.post(
            confirm, data={"payer_name": "张伟", "payer_id_number": "11010519491231002X"}
        )
        assert other.status_code == 403
        assert "Only the buyer named on this order can pay it" in other.text
        same_number = await browser.post(confirm, data={"payer_name": "李 娜", "payer_id_number": PAYER[1]})
        assert same_number.status_code == 403  # the name must be the buyer's exactly
        assert (await _trade(world, checkout_.out_trade_no))["status"] == "WAIT_BUYER_PAY"
        assert await world.order_status(order["order_no"]) == "pending_payment"
        paid = await browser.post(confirm, data={"payer_name": PAYER[0], "payer_id_number": PAYER[1]})
    assert paid.status_code in (200, 303)
    await world.wait_for(order["order_no"], "paid")
    async with world.ctx.read() as conn:
        assert await conn.scalar(sa.select(sa.func.count()).select_from(refunds)) == 0


async def test_two_orders_of_one_identity_paying_at_once_cannot_both_pass_the_annual_limit(
    world: World,
) -> None:
    buyer, first = await world.new_order()
    _, second = await world.new_order(buyer)
    pays = [await payment_service.start_payment(world.ctx, buyer, o["order_no"]) for o in (first, second)]
    signed = [
        proto.signed_notification(
            _notification(world, p.out_trade_no, "108.01"), proto.load_private_key(world.provider_key())
        )
        for p in pays
    ]
    assert await asyncio.gather(*[world.notify(n) for n in signed]) == ["success", "success"]
    statuses = sorted(
        [await world.order_status(first["order_no"]), await world.order_status(second["order_no"])]
    )
    assert statuses == ["cancelled", "paid"]
    async with world.ctx.read() as conn:
        reasons = (await conn.scalars(sa.select(refunds.c.reason))).all()
    assert reasons == ["annual_limit"]


async def test_a_repeated_notification_of_a_refused_payment_is_not_refunded_twice(world: World) -> None:
    buyer, first = await world.new_order()
    _, second = await world.new_order(buyer)
    pays = [await payment_service.start_payment(world.ctx, buyer, o["order_no"]) for o in (first, second)]
    key = proto.load_private_key(world.provider_key())
    signed = [proto.signed_notification(_notification(world, p.out_trade_no, "108.01"), key) for p in pays]
    for notification in signed:  # the second is over the annual limit: refused and refunded
        assert await world.notify(notification) == "success"
    for notification in signed:  # the provider sends both again, as it does until it hears success
        assert await world.notify(notification) == "success"
    async with world.ctx.read() as conn:
        reasons = (await conn.scalars(sa.select(refunds.c.reason))).all()
    assert reasons == ["annual_limit"]


async def test_a_second_successful_payment_of_a_paid_order_is_refunded(world: World) -> None:
    buyer, order = await world.new_order()
    checkout_ = await payment_service.start_payment(world.ctx, buyer, order["order_no"])
    key = proto.load_private_key(world.provider_key())
    first = _notification(world, checkout_.out_trade_no, "108.01")
    assert await world.notify(proto.signed_notification(first, key)) == "success"
    await world.wait_for(order["order_no"], "paid")
    second = {**first, "trade_no": "2026112522009999999999", "notify_id": "second-trade"}
    assert await world.notify(proto.signed_notification(second, key)) == "success"
    async with world.ctx.read() as conn:
        refund = (await conn.execute(sa.select(refunds))).one()
    assert (refund.reason, refund.provider_trade_no, refund.amount_fen) == (
        "duplicate_payment",
        "2026112522009999999999",
        10801,
    )
    assert await world.order_status(order["order_no"]) == "paid"
    assert (await world.events(order["order_no"])).count("order.paid") == 1


async def test_cancelling_a_sale_cancels_its_unpaid_orders_and_refunds_a_late_payment(world: World) -> None:
    sale = await make_sale(world.ctx, quantity=5, limit=2, price_fen=9900)
    [(paid_buyer, _), (late_buyer, _)] = await make_buyers(world.ctx, 2)
    key = proto.load_private_key(world.provider_key())
    placed = {}
    for buyer in (paid_buyer, late_buyer):
        order = (await buying.buy(world.ctx, buyer, sale.item_id, 1, f"k-{buyer}")).order
        identity = await identities.add_identity(world.ctx, buyer, *PAYER, BUYER_PHONE)
        await checkout.check_out(
            world.ctx,
            buyer,
            order["order_no"],
            checkout.CheckoutForm("王伟", "13800138000", "上海市浦东新区世纪大道100号", None, identity.id),
        )
        placed[buyer] = (order, await payment_service.start_payment(world.ctx, buyer, order["order_no"]))
    paid_order, paid_payment = placed[paid_buyer]
    assert (
        await world.notify(
            proto.signed_notification(_notification(world, paid_payment.out_trade_no, "108.01"), key)
        )
        == "success"
    )
    await world.wait_for(paid_order["order_no"], "paid")

    await events.cancel_event(world.ctx, sale.event_id)

    late_order, late_payment = placed[late_buyer]
    assert await world.order_status(late_order["order_no"]) == "cancelled"
    assert await world.order_status(paid_order["order_no"]) == "paid"
    async with world.ctx.read() as conn:
        allotted = await conn.scalar(sa.select(sa.func.sum(stock.c.allotted)))
    assert allotted == 1  # the paid unit stays allotted for shipping; the other four went back
    assert (
        await world.notify(
            proto.signed_notification(_notification(world, late_payment.out_trade_no, "108.01"), key)
        )
        == "success"
    )
    async with world.ctx.read() as conn:
        refund = (await conn.execute(sa.select(refunds))).one()
    assert (refund.reason, refund.amount_fen) == ("late_payment", 10801)  # its order was cancelled first
    assert await world.order_status(late_order["order_no"]) == "cancelled"


async def test_a_pending_payment_is_asked_about_once_per_recheck_interval(world: World) -> None:
    buyer, order = await world.new_order()
    checkout_ = await payment_service.start_payment(world.ctx, buyer, order["order_no"])
    await world.open_checkout(checkout_)  # the trade exists, unpaid
    real_settings, real_clock = world.ctx.settings, world.ctx.clock
    world.ctx.settings = real_settings.model_copy(update={"payment_recheck_seconds": 60})
    try:
        assert await payment_service.recheck_pending_payments(world.ctx) == 0  # too young to ask about
        world.ctx.clock = lambda: real_clock() + timedelta(seconds=61)
        for _ in range(3):  # worker passes in quick succession
            assert await payment_service.recheck_pending_payments(world.ctx) == 0
        world.ctx.clock = lambda: real_clock() + timedelta(seconds=125)
        await payment_service.recheck_pending_payments(world.ctx)
    finally:
        world.ctx.settings, world.ctx.clock = real_settings, real_clock
    async with world.ctx.read() as conn:
        queries = await conn.scalar(
            sa.select(sa.func.count())
            .select_from(payment_exchanges)
            .where(payment_exchanges.c.kind == "query")
        )
    assert queries == 2  # once at 61 s, once more after another interval; never on every pass


async def test_a_signed_notification_of_an_infinite_or_nan_amount_is_refused_not_a_500(world: World) -> None:
    buyer, order = await world.new_order()
    checkout_ = await payment_service.start_payment(world.ctx, buyer, order["order_no"])
    for amount in ("Infinity", "NaN", "-Infinity", "1e400", "-5.00"):
        signed = proto.signed_notification(
            _notification(world, checkout_.out_trade_no, amount), proto.load_private_key(world.provider_key())
        )
        assert await world.notify(signed) == "failure", amount
    assert await world.order_status(order["order_no"]) == "pending_payment"
    async with world.ctx.read() as conn:
        stored = (await conn.execute(sa.select(payment_notifications))).all()
    assert {(n.signature_valid, n.reason) for n in stored} == {
        (True, "unknown trade_status or malformed amount")
    }


async def test_an_unsigned_notification_is_stored_only_as_a_bounded_truncated_record(world: World) -> None:
    junk = {f"field{i}": "x" * 300 + "\x00" for i in range(30)}
    junk |= {"out_trade_no": "o" * 300, "notify_id": "n" * 300}
    assert await world.notify(junk) == "failure"
    async with world.ctx.read() as conn:
        stored = (await conn.execute(sa.select(payment_notifications))).one()
    kept = stored.params if isinstance(stored.params, dict) else {}
    assert stored.signature_valid is False and stored.out_trade_no == "o" * 64
    assert len(kept) <= 40
    assert kept and max(len(v) for v in kept.values()) == 256  # cut, the NUL (after 300 x's) with it
    assert all("\x00" not in v for v in kept.values())
