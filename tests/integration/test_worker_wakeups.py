"""Wake-ups between processes (PostgreSQL ``LISTEN``/``NOTIFY``): a payment settled by the API wakes the
worker's declaring stage at once, though that stage's idle wait is far beyond the test's patience; the
listener reconnects when its connection is dropped, and wakes every stage then for what it may have
missed. SQLite has one process writing and no NOTIFY: these run on PostgreSQL only."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import httpx
import pytest
import sqlalchemy as sa

from flashport.adapters.db import wake_listener
from flashport.adapters.db.schema import declarations
from flashport.adapters.db.wake_listener import WakeListener
from flashport.services.context import Context
from flashport.services.customs import declaring
from flashport.services.orders import checkout
from flashport.services.payments import settlement as payment_service
from flashport.services.sales import buying
from flashport.worker import run_forever
from tests.integration import test_declarations as four_parties
from tests.integration.test_declarations import BUYER_PHONE, CONSIGNEE, PAYER, Parties
from tests.sale_builder import make_buyers, make_sale
from tests.waiting import HTTP_TIMEOUT, eventually

parties = four_parties.parties

# Far beyond any wait below: a stage that waits out its interval fails the test.
PATIENT = {"worker_poll_seconds": 600.0, "partner_poll_seconds": 600.0, "worker_idle_backoff": 8.0}
# How soon a notified stage must have run, on a loaded machine; a poll would take ten times as long.
WOKEN_WITHIN = 60.0


def _postgres_only(ctx: Context) -> None:
    if ctx.settings.is_sqlite:
        pytest.skip("NOTIFY is PostgreSQL's; on SQLite one process writes and its stages wake each other")


async def _pay(parties: Parties) -> str:
    """A checked-out order paid on the sandbox; the provider's notification settles it at the API. Unlike
    ``Parties.paid_order`` it does not wait to see the declaration pending: the worker may be faster."""
    ctx = parties.ctx
    sale = await make_sale(ctx, quantity=5, limit=2, price_fen=9900)
    [(buyer, _)] = await make_buyers(ctx, 1)
    order = (await buying.buy(ctx, buyer, sale.item_id, 1, f"k-{sale.item_id}")).order
    identity = await four_parties.identities.add_identity(ctx, buyer, *PAYER, BUYER_PHONE)
    await checkout.check_out(
        ctx, buyer, order["order_no"], checkout.CheckoutForm(*CONSIGNEE, None, identity.id)
    )
    payment = await payment_service.start_payment(ctx, buyer, order["order_no"])
    async with httpx.AsyncClient(timeout=HTTP_TIMEOUT) as browser:
        assert (await browser.get(payment.redirect_url)).status_code == 200
    paid = await parties.pay.post(
        f"/sandbox/trades/{payment.out_trade_no}/pay",
        json={"payer_name": PAYER[0], "payer_id_number": PAYER[1]},
    )
    assert paid.status_code == 200, paid.text
    return str(order["order_no"])


def _counting(calls: list[int], job: Callable[..., Awaitable[int]]) -> Callable[..., Awaitable[int]]:
    async def counted(*args: object, **kwargs: object) -> int:
        done = await job(*args, **kwargs)
        calls.append(done)
        return done

    return counted


async def test_a_payment_settled_by_the_api_wakes_declaring_at_once_though_its_idle_wait_is_long(
    parties: Parties, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx = parties.ctx
    _postgres_only(ctx)
    calls: list[int] = []
    monkeypatch.setattr(declaring, "declare_pending", _counting(calls, declaring.declare_pending))
    settings = ctx.settings
    ctx.settings = settings.model_copy(update=PATIENT)
    stop = asyncio.Event()
    worker = asyncio.create_task(run_forever(ctx, stop))
    try:
        await eventually(_async(lambda: len(calls) >= 1), what="declaring's first poll")
        order_no = await _pay(parties)  # settled by the API on a connection of its own
        await eventually(
            lambda: _declared_past_pending(ctx, order_no), within=WOKEN_WITHIN, what="the order declared"
        )
    finally:
        stop.set()
        await asyncio.wait_for(worker, 30)
        ctx.settings = settings
    assert sum(1 for done in calls if done) == 1  # one pass declared it; the others found nothing


async def _declared_past_pending(ctx: Context, order_no: str) -> bool:
    async with ctx.read() as conn:
        state = await conn.scalar(sa.select(declarations.c.state).where(declarations.c.order_no == order_no))
    return state not in (None, "pending")


def _async(check: Callable[[], bool]) -> Callable[[], Awaitable[bool]]:
    async def checked() -> bool:
        return check()

    return checked


async def _notify(ctx: Context, stage: str) -> None:
    async with ctx.transaction() as tx:
        await tx.conn.execute(
            sa.text("SELECT pg_notify(:channel, :stage)"), {"channel": "flashport_wake", "stage": stage}
        )


async def _drop_listener_connections(ctx: Context) -> int:
    async with ctx.transaction() as tx:
        dropped = await tx.conn.scalars(
            sa.text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE application_name = :name AND datname = current_database()"
            ),
            {"name": wake_listener.APPLICATION_NAME},
        )
        return sum(1 for ok in dropped if ok)


async def test_the_wake_listener_reconnects_after_its_connection_drops_and_wakes_every_stage_then(
    ctx: Context,
) -> None:
    _postgres_only(ctx)
    heard: list[str] = []
    connects: list[int] = []
    listener = WakeListener(
        wake_listener.connector(ctx.engine), heard.append, lambda: connects.append(1), check_seconds=5.0
    )
    stop = asyncio.Event()
    listening = asyncio.create_task(listener.run(stop))
    try:
        await eventually(_async(lambda: len(connects) == 1), what="the listener connected")
        await _notify(ctx, "declared")
        await eventually(_async(lambda: heard == ["declared"]), what="the notification heard")

        assert await _drop_listener_connections(ctx) == 1
        await eventually(_async(lambda: len(connects) == 2), what="the listener connected again")
        await _notify(ctx, "returns_declared")
        await eventually(_async(lambda: heard == ["declared", "returns_declared"]), what="heard again")
        assert listener.connections == 2
    finally:
        stop.set()
        await asyncio.wait_for(listening, 30)
    assert await _drop_listener_connections(ctx) == 0  # stopping closed its connection


async def test_the_wake_listener_keeps_trying_while_the_database_refuses_it(ctx: Context) -> None:
    _postgres_only(ctx)
    real = wake_listener.connector(ctx.engine)
    attempts: list[int] = []

    async def refused_twice() -> object:
        attempts.append(1)
        if len(attempts) <= 2:
            raise ConnectionRefusedError("database restarting")
        return await real()

    connects: list[int] = []
    listener = WakeListener(refused_twice, lambda _: None, lambda: connects.append(1))  # type: ignore[arg-type]
    stop = asyncio.Event()
    listening = asyncio.create_task(listener.run(stop))
    try:
        await eventually(_async(lambda: len(connects) == 1), what="connected at the third attempt")
    finally:
        stop.set()
        await asyncio.wait_for(listening, 30)
    assert len(attempts) == 3
