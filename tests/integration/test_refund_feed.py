"""The sandbox payment company as a partner of the platform, over real HTTP on loopback ports: with
``payment_refunds`` "feed" the platform calls nobody to refund; the payment company learns of every
refund it must make from its partner feed (``refund.requested``), makes it once per request number
however often the event comes, and the worker learns the outcome with the refund query, marking the
refund succeeded once. A refund it cannot make surfaces on the platform with its reason."""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from flashport import demo
from flashport.adapters.db.engine import create_engine
from flashport.adapters.db.partners_schema import partner_events
from flashport.adapters.db.schema import outbox, payments, refunds
from flashport.app import create_app
from flashport.bootstrap import build_context, close_context
from flashport.domain.accounts import Role
from flashport.domain.partners import PartnerKind
from flashport.domain.payments import RefundReason
from flashport.sandbox_pay.app import create_sandbox_app
from flashport.sandbox_pay.provider import SandboxProvider
from flashport.sandbox_pay.refund_feed import RefundFeed
from flashport.sandbox_pay.settings import SandboxSettings
from flashport.sandbox_pay.tables import feed_cursors
from flashport.sandbox_pay.tables import refunds as sandbox_refunds
from flashport.services.accounts import identities
from flashport.services.context import Context
from flashport.services.orders import checkout
from flashport.services.partners import enrolment, registry, relay
from flashport.services.partners import keys as partner_keys
from flashport.services.payments import refunds as refund_service
from flashport.services.payments import settlement as payment_service
from flashport.services.payments import staff_refunds
from flashport.services.sales import buying
from flashport.settings import Settings
from tests.clocks import ShiftedClock
from tests.conftest import _empty_all_tables
from tests.factories import make_user
from tests.sale_builder import make_buyers, make_sale
from tests.servers import bound_socket, free_port, serving, serving_all
from tests.waiting import HTTP_TIMEOUT, eventually

PAYER = ("李娜", "110105199003070025")
CONSIGNEE = ("王伟", "13800138000", "上海市浦东新区世纪大道100号")
# Past any wait between two questions to the provider (growing, at most an hour).
LATER = timedelta(hours=2)


@dataclass
class Paid:
    order_no: str
    out_trade_no: str
    trade_no: str


@dataclass
class RefundWorld:
    ctx: Context
    clock: ShiftedClock
    platform_url: str
    sandbox_port: int
    sandbox_settings: SandboxSettings
    key: str
    staff_id: int

    @contextlib.asynccontextmanager
    async def payment_company(self, *, following: bool = False) -> AsyncIterator[Any]:
        """The payment company's process, up until the block ends (a new one each time, on the same
        address and record). ``following``: its lifespan follows its partner feed on its own."""
        settings = self.sandbox_settings
        if following:
            settings = settings.model_copy(
                update={"platform_url": self.platform_url, "partner_key": self.key, "feed_poll_seconds": 0.05}
            )
        app = create_sandbox_app(settings)
        async with serving(app, port=self.sandbox_port):
            yield app

    def follower(self, app: Any) -> RefundFeed:
        """A follower of the payment company's feed, as its process starts one."""
        provider: SandboxProvider = app.state.sandbox_provider
        return RefundFeed(provider, self.platform_url, self.key, page_size=2)

    async def paid_order(self) -> Paid:
        """An order paid on the sandbox by its real-name buyer (the payment company must be up)."""
        sale = await make_sale(self.ctx, quantity=5, limit=2, price_fen=9900)
        [(buyer, _)] = await make_buyers(self.ctx, 1)
        order = (await buying.buy(self.ctx, buyer, sale.item_id, 1, f"k-{sale.item_id}")).order
        identity = await identities.add_identity(self.ctx, buyer, *PAYER, "13700137000")
        form = checkout.CheckoutForm(*CONSIGNEE, None, identity.id)
        await checkout.check_out(self.ctx, buyer, order["order_no"], form)
        payment = await payment_service.start_payment(self.ctx, buyer, order["order_no"])
        sandbox = f"http://127.0.0.1:{self.sandbox_port}"
        async with httpx.AsyncClient(timeout=HTTP_TIMEOUT) as client:
            assert (await client.get(payment.redirect_url)).status_code == 200
            paid = await client.post(
                f"{sandbox}/sandbox/trades/{payment.out_trade_no}/pay",
                json={"payer_name": PAYER[0], "payer_id_number": PAYER[1], "notify": False},
            )
            assert paid.status_code == 200, paid.text
        assert await payment_service.recheck_pending_payments(self.ctx) == 1  # paid, by the trade query
        return Paid(str(order["order_no"]), payment.out_trade_no, str(paid.json()["trade_no"]))

    async def refund(self, paid: Paid) -> int:
        made = await staff_refunds.refund_order(self.ctx, self.staff_id, paid.order_no, "the buyer asked us")
        assert not made.confirmed  # nobody was called: the payment company takes it from its feed
        return made.refund_id

    async def in_feed(self, count: int) -> None:
        """Wait until the relay has put ``count`` refunds in the payment company's feed (on PostgreSQL
        an outbox record is relayed once every transaction before it has settled)."""

        async def relayed() -> bool:
            await relay.relay_all(self.ctx)
            async with self.ctx.read() as conn:
                found = await conn.scalar(
                    sa.select(sa.func.count())
                    .select_from(partner_events)
                    .where(partner_events.c.type == "refund.requested")
                )
            return int(found or 0) >= count

        await eventually(relayed, what=f"{count} refund.requested events in the payment company's feed")

    async def ask_provider(self) -> int:
        """One pass of the worker's refunds stage, once every wait has passed."""
        self.clock.advance(LATER)
        return await refund_service.retry_refunds(self.ctx)

    async def refund_rows(self) -> list[Any]:
        async with self.ctx.read() as conn:
            return list((await conn.execute(sa.select(refunds).order_by(refunds.c.id))).all())

    async def events(self, type_: str) -> int:
        async with self.ctx.read() as conn:
            found = await conn.scalar(
                sa.select(sa.func.count()).select_from(outbox).where(outbox.c.type == type_)
            )
        return int(found or 0)


async def _money_back(app: Any, trade_no: str) -> list[tuple[str, int]]:
    """The refunds the payment company made of a trade: (request number, fen)."""
    provider: SandboxProvider = app.state.sandbox_provider
    return [(r.out_request_no, r.refund_fen) for r in await provider.trades.refunds(trade_no)]


@pytest.fixture
async def world(database_settings: Settings) -> AsyncIterator[RefundWorld]:
    platform_sock, sandbox_port = bound_socket(), free_port()
    platform_url = f"http://127.0.0.1:{platform_sock.getsockname()[1]}"
    settings = database_settings.model_copy(
        update={
            "payment_gateway_url": f"http://127.0.0.1:{sandbox_port}/gateway.do",
            "payment_notify_url": f"{platform_url}/api/v1/payments/alipay/notify",
            "payment_return_url": f"{platform_url}/orders",
            "payment_recheck_seconds": 0,
            "payment_refunds": "feed",
        }
    )
    engine = create_engine(settings)
    await _empty_all_tables(engine)
    await engine.dispose()
    ctx = await build_context(settings)
    clock = ctx.clock = ShiftedClock()
    _, key = await enrolment.enrol(
        ctx, name="Sandbox payment company", kind=PartnerKind.PAYMENT_COMPANY, pay_code=ctx.payments.name
    )
    staff_id, _ = await make_user(ctx, Role.CUSTOMER_SERVICE)
    sandbox_settings = SandboxSettings(data_dir=settings.data_dir, notify_schedule=[0.2, 0.4])
    try:
        async with serving_all({"platform": (create_app(ctx=ctx), platform_sock)}):
            yield RefundWorld(ctx, clock, platform_url, sandbox_port, sandbox_settings, key, staff_id)
    finally:
        await close_context(ctx)


async def test_a_refund_is_made_by_the_payment_company_from_its_feed_and_succeeds_once(
    world: RefundWorld,
) -> None:
    other, _ = await enrolment.enrol(
        world.ctx, name="Another payment company", kind=PartnerKind.PAYMENT_COMPANY, pay_code="otherpay"
    )
    async with world.payment_company() as company:
        paid = await world.paid_order()
        refund_id = await world.refund(paid)
        assert await _money_back(company, paid.trade_no) == []  # no call was made
        assert await world.ask_provider() == 0  # the payment company has not taken it yet
        [row] = await world.refund_rows()
        assert row.status == "pending" and row.last_error == refund_service.NOT_MADE_YET
        await world.in_feed(1)
        async with world.ctx.read() as conn:  # only the payment company of the trade is told
            theirs = await conn.scalar(
                sa.select(sa.func.count())
                .select_from(partner_events)
                .where(partner_events.c.partner_id == other.id, partner_events.c.type.startswith("refund."))
            )
        assert theirs == 0
        follower = world.follower(company)
        try:
            assert await follower.consume_page() == (1, False)
        finally:
            await follower.close()
        assert await _money_back(company, paid.trade_no) == [(row.out_request_no, 10801)]
        assert await world.ask_provider() == 1
        assert await world.ask_provider() == 0  # nothing left to ask
    [row] = await world.refund_rows()
    assert (row.id, row.status, row.reason) == (refund_id, "succeeded", RefundReason.STAFF_REFUND.value)
    assert await world.events("refund.succeeded") == 1
    async with world.ctx.read() as conn:
        status = await conn.scalar(
            sa.select(payments.c.status).where(payments.c.out_trade_no == paid.out_trade_no)
        )
    assert status == "succeeded"  # the payment stays as it was; the refund is its own row


async def test_a_replayed_or_duplicated_refund_event_pays_back_once(world: RefundWorld) -> None:
    async with world.payment_company() as company:
        paid = [await world.paid_order() for _ in range(3)]
        for one in paid:
            await world.refund(one)
        await world.in_feed(3)
        first, second = world.follower(company), world.follower(company)
        try:
            # Two followers of one record (the demo's several API processes) read the same page.
            assert (await first.consume_page())[0] == 2
            provider: SandboxProvider = company.state.sandbox_provider
            async with provider.trades._db.engine.begin() as conn:  # the cursor lost: replay from the start
                await conn.execute(feed_cursors.delete())
            while (await second.consume_page())[1]:
                pass
            while (await first.consume_page())[1]:
                pass
        finally:
            await first.close()
            await second.close()
        rows = await world.refund_rows()
        for one, row in zip(paid, rows, strict=True):
            assert await _money_back(company, one.trade_no) == [(row.out_request_no, 10801)]
        async with provider.trades._db.engine.begin() as conn:
            made = await conn.scalar(  # the record is shared by the session's tests: these trades'
                sa.select(sa.func.count())
                .select_from(sandbox_refunds)
                .where(sandbox_refunds.c.trade_no.in_([one.trade_no for one in paid]))
            )
        assert made == 3
        assert await world.ask_provider() == 3
        assert await world.ask_provider() == 0
    assert [r.status for r in await world.refund_rows()] == ["succeeded"] * 3
    assert await world.events("refund.succeeded") == 3


async def test_a_payment_company_down_for_a_while_catches_up_from_its_feed(world: RefundWorld) -> None:
    async with world.payment_company():
        paid = [await world.paid_order() for _ in range(2)]
    # The payment company is down: the refunds are asked for all the same, and asking fails.
    for one in paid:
        await world.refund(one)
    assert await world.ask_provider() == 0
    rows = await world.refund_rows()
    assert all(r.status == "pending" and r.attempts == 1 and r.last_error for r in rows)
    await world.in_feed(2)
    async with world.payment_company(following=True) as company:  # back, following its feed itself

        async def caught_up() -> bool:
            made = [await _money_back(company, one.trade_no) for one in paid]
            return made == [[(r.out_request_no, 10801)] for r in rows]

        await eventually(caught_up, what="the payment company made both refunds from its feed")
        assert await world.ask_provider() == 2
    assert [r.status for r in await world.refund_rows()] == ["succeeded"] * 2
    assert await world.events("refund.succeeded") == 2


async def test_a_refund_the_payment_company_cannot_make_surfaces_with_its_reason(
    world: RefundWorld, caplog: pytest.LogCaptureFixture
) -> None:
    async with world.payment_company() as company:
        paid = await world.paid_order()
        async with world.ctx.transaction() as tx:  # refunds it cannot make: an unknown trade, too much
            payment = (
                await tx.conn.execute(sa.select(payments).where(payments.c.out_trade_no == paid.out_trade_no))
            ).one()
            unknown = f"2099{uuid.uuid4().hex[:20]}"
            for trade_no, fen, reason in (
                (unknown, 100, RefundReason.DUPLICATE_PAYMENT),
                (paid.trade_no, payment.amount_fen + 1, RefundReason.AMOUNT_MISMATCH),
            ):
                await refund_service.request_within(tx, payment, trade_no, fen, reason, paid.order_no)
        await world.in_feed(2)
        follower = world.follower(company)
        try:
            assert (await follower.consume_page())[0] == 2
        finally:
            await follower.close()
        assert await _money_back(company, paid.trade_no) == []
        with caplog.at_level(logging.ERROR, logger="flashport.services.payments.refunds"):
            assert await world.ask_provider() == 0
    rows = {r.provider_trade_no: r for r in await world.refund_rows()}
    assert {r.status for r in rows.values()} == {"pending"}
    assert "ACQ.TRADE_NOT_EXIST" in rows[unknown].last_error
    assert "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL" in rows[paid.trade_no].last_error
    assert all(r.last_error.startswith("refused by the payment company") for r in rows.values())
    refused = [
        r.getMessage()
        for r in caplog.records
        if r.levelno == logging.ERROR and r.name == "flashport.services.payments.refunds"
    ]
    assert len(refused) == 2 and all(paid.order_no in m for m in refused)
    assert await world.events("refund.succeeded") == 0


async def test_the_demo_enrols_its_payment_company_once_with_a_key_in_its_folder(
    database_settings: Settings, tmp_path: Path
) -> None:
    settings = database_settings.model_copy(update={"data_dir": tmp_path})
    engine = create_engine(settings)
    await _empty_all_tables(engine)
    await engine.dispose()
    await demo.load(settings)
    await demo.load(settings)  # a second run enrols nobody again
    ctx = await build_context(settings)
    try:
        key = SandboxSettings(data_dir=tmp_path).feed_key()
        assert key is not None
        partner = await partner_keys.authenticate(ctx, key)
        assert (partner.kind, partner.pay_code) == (PartnerKind.PAYMENT_COMPANY, ctx.payments.name)
        payers = [p for p in await registry.list_all(ctx) if p.kind is PartnerKind.PAYMENT_COMPANY]
        assert payers == [partner]
    finally:
        await close_context(ctx)
