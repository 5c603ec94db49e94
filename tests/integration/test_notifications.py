"""The notifier: outbox records and deadlines become messages in the buyer's language, sent once by
e-mail to a real local SMTP server and by SMS to the sandbox, retried with backoff, never for a kind
the buyer turned off."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from flashport.adapters.db.notify_schema import notifications
from flashport.adapters.db.schema import users
from flashport.adapters.notify.channels import Channels, SandboxSms, SmtpMailer
from flashport.services.context import Context
from flashport.services.notify import preferences, queueing, reminders, sending
from flashport.services.sales import buying
from flashport.worker import run_once
from tests.clocks import ShiftedClock
from tests.mailbox import Mailbox, smtp_server
from tests.sale_builder import make_buyers, make_sale
from tests.servers import bound_socket
from tests.waiting import eventually


@pytest.fixture
async def mailbox(ctx: Context) -> AsyncIterator[Mailbox]:
    async with smtp_server() as box:
        settings = ctx.settings.model_copy(
            update={"smtp_host": "127.0.0.1", "smtp_port": box.port, "smtp_tls": "none"}
        )
        ctx.notify_channels = Channels(SmtpMailer(settings), SandboxSms())
        ctx.clock = ShiftedClock()
        yield box


def sms(ctx: Context) -> SandboxSms:
    assert ctx.notify_channels is not None and isinstance(ctx.notify_channels.sms, SandboxSms)
    return ctx.notify_channels.sms


async def notify(ctx: Context) -> None:
    """One pass of the notifier's three stages."""
    while await queueing.queue_from_outbox(ctx) >= queueing.BATCH:
        pass
    await queueing.queue_due(ctx)
    await sending.send_due(ctx)


async def notify_until(ctx: Context, condition: Callable[[], Awaitable[Any]], what: str) -> None:
    """Notifier passes until ``condition`` holds: on PostgreSQL a record is read only once every older
    transaction of the server has ended (other tests' included), so one pass may not see it yet."""

    async def step() -> Any:
        await notify(ctx)
        return await condition()

    await eventually(step, what=what)


def arrived(box: Mailbox, count: int) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return len(box.messages) >= count

    return check


async def email_of(ctx: Context, user_id: int) -> str:
    async with ctx.read() as conn:
        return str(await conn.scalar(sa.select(users.c.email).where(users.c.id == user_id)))


async def an_order(ctx: Context) -> tuple[int, str]:
    """(buyer, order number) of a fresh pending order."""
    sale = await make_sale(ctx, quantity=5)
    [(buyer, _)] = await make_buyers(ctx, 1)
    order = (await buying.buy(ctx, buyer, sale.item_id, 1, "k")).order
    return buyer, str(order["order_no"])


async def record(ctx: Context, type_: str, order_no: str, **payload: Any) -> None:
    async with ctx.transaction() as tx:
        await tx.emit(type_, f"order:{order_no}", {"order_no": order_no, **payload})


async def rows(ctx: Context, user_id: int) -> list[Any]:
    async with ctx.read() as conn:
        query = (
            sa.select(notifications).where(notifications.c.user_id == user_id).order_by(notifications.c.id)
        )
        return list(await conn.execute(query))


async def test_a_paid_order_is_mailed_once_in_the_buyers_language(ctx: Context, mailbox: Mailbox) -> None:
    buyer, order_no = await an_order(ctx)
    await preferences.save(ctx, buyer, "en", None, [])
    await record(ctx, "order.paid", order_no, amount="99.00")
    await notify_until(ctx, arrived(mailbox, 1), "the mail")
    await notify(ctx)
    [message] = mailbox.to(await email_of(ctx, buyer))
    assert message["Subject"] == f"Payment received for order {order_no}"
    assert "99.00 CNY" in message.get_content()
    assert message["Content-Language"] == "en"
    [row] = await rows(ctx, buyer)
    assert (row.kind, row.channel, row.status, row.attempts) == ("paid", "email", "sent", 1)


async def test_a_repeated_pass_over_the_same_records_queues_nothing_twice(
    ctx: Context, mailbox: Mailbox
) -> None:
    buyer, order_no = await an_order(ctx)
    await record(ctx, "order.shipped", order_no, logistics_no="SF1234567890")
    await notify_until(ctx, arrived(mailbox, 1), "the mail")
    async with ctx.transaction() as tx:  # as if the cursor's move had been lost
        await tx.conn.execute(
            sa.text("UPDATE relay_cursors SET tx_seq = 0, last_id = 0 WHERE name = 'notifier'")
        )
    await notify(ctx)
    assert len(await rows(ctx, buyer)) == 1
    assert len(mailbox.to(await email_of(ctx, buyer))) == 1


async def test_messages_are_in_chinese_by_default(ctx: Context, mailbox: Mailbox) -> None:
    buyer, order_no = await an_order(ctx)
    await record(ctx, "order.shipped", order_no, logistics_no="SF1234567890")
    await notify_until(ctx, arrived(mailbox, 1), "the mail")
    [message] = mailbox.to(await email_of(ctx, buyer))
    assert message["Content-Language"] == "zh-CN"
    assert "发货" in message["Subject"] and order_no in message["Subject"]
    assert "SF1234567890" in message.get_content()


async def test_each_kind_of_order_record_makes_its_message(ctx: Context, mailbox: Mailbox) -> None:
    buyer, order_no = await an_order(ctx)
    await preferences.save(ctx, buyer, "en", None, [])
    await record(ctx, "declaration.released", order_no)
    await record(ctx, "shipment.milestone", order_no, milestone="in_transit", at="2026-12-03T10:00:00Z")
    await record(ctx, "shipment.delivered", order_no, at="2026-12-03T10:00:00Z")
    await record(ctx, "refund.succeeded", order_no, amount="99.00", reason="annual_limit")
    await notify_until(ctx, arrived(mailbox, 3), "three mails")
    subjects = {m["Subject"] for m in mailbox.to(await email_of(ctx, buyer))}  # sent side by side
    assert subjects == {
        f"Order {order_no} was released by customs",
        f"Order {order_no} was delivered",
        f"Refund for order {order_no}",
    }
    [refund] = [m.get_content() for m in mailbox.messages if m["Subject"].startswith("Refund")]
    assert "because this order would have taken you past your yearly cross-border shopping limit" in refund


async def test_a_kind_the_buyer_turned_off_is_never_sent(ctx: Context, mailbox: Mailbox) -> None:
    buyer, order_no = await an_order(ctx)
    await preferences.save(ctx, buyer, "en", None, ["shipped"])
    await record(ctx, "order.shipped", order_no, logistics_no="SF1")
    await record(ctx, "order.paid", order_no, amount="99.00")
    await notify_until(ctx, arrived(mailbox, 1), "the mail")
    assert [m["Subject"] for m in mailbox.to(await email_of(ctx, buyer))] == [
        f"Payment received for order {order_no}"
    ]
    assert [(r.kind, r.status) for r in await rows(ctx, buyer)] == [("shipped", "muted"), ("paid", "sent")]


async def test_five_minutes_before_the_deadline_the_buyer_is_told_by_mail_and_sms(
    ctx: Context, mailbox: Mailbox
) -> None:
    buyer, order_no = await an_order(ctx)
    await preferences.save(ctx, buyer, "en", "+86 138-0013-8000", [])
    await notify(ctx)
    assert mailbox.messages == [] and sms(ctx).sent == []  # 20 minutes to pay: too early
    assert isinstance(ctx.clock, ShiftedClock)
    ctx.clock.advance(timedelta(minutes=15, seconds=30))
    await notify(ctx)
    await notify(ctx)
    [message] = mailbox.to(await email_of(ctx, buyer))
    assert message["Subject"] == f"Five minutes left to pay for order {order_no}"
    [text] = sms(ctx).sent
    assert text.to == "13800138000" and order_no in text.body and text.body.startswith("Flashport: 5 minutes")


async def test_a_failing_smtp_server_is_retried_with_backoff(ctx: Context, mailbox: Mailbox) -> None:
    buyer, order_no = await an_order(ctx)
    with bound_socket() as closed:  # bound, never listening: connections are refused
        down = ctx.settings.model_copy(
            update={"smtp_host": "127.0.0.1", "smtp_port": closed.getsockname()[1], "smtp_tls": "none"}
        )
        working = ctx.notify_channels
        ctx.notify_channels = Channels(SmtpMailer(down), SandboxSms())
        await record(ctx, "order.paid", order_no, amount="99.00")

        async def tried() -> bool:
            return any(r.attempts for r in await rows(ctx, buyer))

        await notify_until(ctx, tried, "a failed attempt")
    [row] = await rows(ctx, buyer)
    assert (row.status, row.attempts) == ("pending", 1) and "SMTP" in row.last_error
    ctx.notify_channels = working
    await notify(ctx)
    assert mailbox.messages == []  # not due yet: 30 s of backoff
    assert isinstance(ctx.clock, ShiftedClock)
    ctx.clock.advance(timedelta(seconds=31))
    await notify_until(ctx, arrived(mailbox, 1), "the mail")
    assert len(mailbox.to(await email_of(ctx, buyer))) == 1
    [row] = await rows(ctx, buyer)
    assert (row.status, row.attempts) == ("sent", 2)


async def test_a_sale_reminder_is_sent_when_the_sale_opens(ctx: Context, mailbox: Mailbox) -> None:
    sale = await make_sale(ctx, starts_in=timedelta(hours=2))
    [(buyer, _)] = await make_buyers(ctx, 1)
    await preferences.save(ctx, buyer, "en", "13800138000", [])
    assert await reminders.remind(ctx, buyer, sale.event_id)
    assert await reminders.remind(ctx, buyer, sale.event_id)  # twice: one reminder
    await notify(ctx)
    assert mailbox.messages == []
    assert isinstance(ctx.clock, ShiftedClock)
    ctx.clock.advance(timedelta(hours=2, minutes=1))
    await notify(ctx)
    await notify(ctx)
    [message] = mailbox.to(await email_of(ctx, buyer))
    assert message["Subject"].startswith("The sale you asked about is open")
    assert f"/events/{sale.event_id}" in message.get_content()
    assert len(sms(ctx).sent) == 1


async def test_the_worker_runs_the_notifier_stages(ctx: Context, mailbox: Mailbox) -> None:
    buyer, order_no = await an_order(ctx)
    await record(ctx, "order.paid", order_no, amount="99.00")

    async def sent() -> bool:
        done = await run_once(ctx)
        return done["notifications_sent"] == 1

    await eventually(sent, what="a message sent by the worker's stages")
    assert len(mailbox.to(await email_of(ctx, buyer))) == 1


async def test_five_minutes_to_pay_is_not_sent_for_an_order_paid_meanwhile(
    ctx: Context, mailbox: Mailbox
) -> None:
    buyer, order_no = await an_order(ctx)
    assert isinstance(ctx.clock, ShiftedClock)
    ctx.clock.advance(timedelta(minutes=16))
    await queueing.queue_due(ctx)  # queued ...
    async with ctx.transaction() as tx:  # ... then the order is paid before the message goes
        await tx.conn.execute(
            sa.text("UPDATE orders SET status = 'paid', paid_at = created_at WHERE order_no = :n"),
            {"n": order_no},
        )
    await sending.send_due(ctx)
    assert mailbox.messages == []
    assert [(r.kind, r.status) for r in await rows(ctx, buyer)] == [("pay_soon", "skipped")]


async def test_a_batch_of_messages_sent_is_marked_sent_in_one_statement(
    ctx: Context, mailbox: Mailbox
) -> None:
    for _ in range(4):
        _, order_no = await an_order(ctx)
        await record(ctx, "order.paid", order_no, amount="99.00")

    async def all_queued() -> bool:
        await queueing.queue_from_outbox(ctx)
        async with ctx.read() as conn:
            return await conn.scalar(sa.select(sa.func.count()).select_from(notifications)) == 4

    await eventually(all_queued, what="four messages queued")
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    sa.event.listen(ctx.engine.sync_engine, "before_cursor_execute", seen)
    try:
        assert await sending.send_due(ctx) == 4
    finally:
        sa.event.remove(ctx.engine.sync_engine, "before_cursor_execute", seen)
    updates = [s for s in statements if s.lstrip().upper().startswith("UPDATE NOTIFICATIONS")]
    assert len(updates) == 2  # the lease, then all four sent: not one statement per message
    async with ctx.read() as conn:
        sent = (await conn.execute(sa.select(notifications.c.status, notifications.c.attempts))).all()
    assert [tuple(row) for row in sent] == [("sent", 1)] * 4
    assert len(mailbox.messages) == 4
