"""Payment notifications settled in groups (one transaction for many notifications): duplicates,
retries, out-of-order and concurrent deliveries change nothing twice, and every caller gets the answer
it got when each notification had a transaction of its own. Both backends, through the HTTP route."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime
from urllib.parse import parse_qsl

import httpx
import sqlalchemy as sa

from flashport.adapters.db.schema import orders, outbox, payment_notifications, payments, refunds
from flashport.adapters.payments import alipay_protocol as proto
from flashport.bench import notify as bench
from flashport.domain.payments import TradeReport, TradeState
from flashport.sandbox_pay.keys import ensure_keys
from flashport.services.context import Context
from flashport.services.payments import settlement

NOTIFY = "/api/v1/payments/alipay/notify"


def _form(
    ctx: Context, out_trade_no: str, *, status: str = "TRADE_SUCCESS", amount_fen: int = 0
) -> dict[str, str]:
    """A notification signed with the sandbox provider's key, as the provider posts it."""
    fields = bench.notification_fields(
        ctx.settings.payment_app_id, out_trade_no, amount_fen or bench.SALE_PRICE_FEN, datetime.now(UTC)
    )
    fields["trade_status"] = status
    key = proto.load_private_key(ensure_keys(ctx.settings.data_dir).provider_private)
    return dict(parse_qsl(bench.signed_form(fields, key).decode(), keep_blank_values=True))


async def _post(client: httpx.AsyncClient, form: dict[str, str]) -> str:
    answer = await client.post(NOTIFY, data=form)
    assert answer.status_code == 200, answer.text
    return answer.text


async def _events(ctx: Context) -> Counter[tuple[str, str]]:
    async with ctx.read() as conn:
        rows = (await conn.execute(sa.select(outbox.c.type, outbox.c.subject))).all()
    return Counter((row.type, row.subject) for row in rows)


async def _statuses(ctx: Context, table: sa.Table) -> Counter[str]:
    async with ctx.read() as conn:
        return Counter((await conn.scalars(sa.select(table.c.status))).all())


async def test_many_concurrent_posts_of_the_same_and_different_notifications_pay_each_order_once(
    ctx: Context, client: httpx.AsyncClient
) -> None:
    prepared = await bench.prepare_payments(ctx, 12, "grp1")
    forms = [_form(ctx, no) for no in prepared.out_trade_nos]
    # Every notification four times over, all at once: copies land in one group and in different ones.
    answers = await asyncio.gather(*(_post(client, form) for form in forms * 4))
    assert answers == ["success"] * 48
    assert await _statuses(ctx, orders) == Counter({"paid": 12})
    assert await _statuses(ctx, payments) == Counter({"succeeded": 12})
    events = await _events(ctx)
    for no in prepared.out_trade_nos:
        subject = f"order:{no}"
        assert [
            events[(kind, subject)] for kind in ("payment.succeeded", "order.paid", "declaration.opened")
        ] == [
            1,
            1,
            1,
        ]
    async with ctx.read() as conn:
        outcomes = Counter((await conn.scalars(sa.select(payment_notifications.c.outcome))).all())
        refunded = await conn.scalar(sa.select(sa.func.count()).select_from(refunds))
        groups = await conn.scalar(sa.select(sa.func.count(sa.distinct(payment_notifications.c.received_at))))
    assert outcomes == Counter({"pay_order": 12, "nothing": 36}) and refunded == 0
    assert groups < 48  # a group's notifications share its transaction's time: they were grouped
    # The provider retrying later changes nothing either.
    assert await _post(client, forms[0]) == "success"
    assert (await _events(ctx))[("order.paid", f"order:{prepared.out_trade_nos[0]}")] == 1


async def test_a_close_after_the_payment_changes_nothing_in_one_group_or_across_groups(
    ctx: Context, client: httpx.AsyncClient
) -> None:
    prepared = await bench.prepare_payments(ctx, 2, "grp2")
    together, apart = prepared.out_trade_nos
    # In one group: the success and the late close settled in one transaction, in that order. (Posted
    # at once over HTTP, a loaded machine could settle the close first, in a group of its own: then
    # it is a close before the payment, which the next test judges.)
    now = datetime.now(UTC)
    outcomes = await settlement.settle_group(
        ctx,
        [
            settlement.Report(TradeReport(together, "T1", TradeState.PAID, bench.SALE_PRICE_FEN, now)),
            settlement.Report(TradeReport(together, "T1", TradeState.CLOSED, bench.SALE_PRICE_FEN, now)),
        ],
    )
    assert outcomes == ["pay_order", "nothing"]
    # Across groups, through the route: the close comes after the payment committed.
    assert await _post(client, _form(ctx, apart)) == "success"
    assert await _post(client, _form(ctx, apart, status="TRADE_CLOSED")) == "success"
    assert await _statuses(ctx, payments) == Counter({"succeeded": 2})
    assert await _statuses(ctx, orders) == Counter({"paid": 2})
    assert not any(kind == "payment.closed" for kind, _ in await _events(ctx))


async def test_a_group_judges_each_report_after_the_ones_before_it(ctx: Context) -> None:
    """Within one transaction: a duplicate sees the payment its first copy made, a close that came
    before the payment closes the trade, a trade we do not know is answered as such."""
    prepared = await bench.prepare_payments(ctx, 3, "grp3")
    first, second, third = prepared.out_trade_nos
    now = datetime.now(UTC)

    def report(no: str, state: TradeState, trade_no: str = "T1") -> settlement.Report:
        return settlement.Report(TradeReport(no, f"{trade_no}-{no}", state, bench.SALE_PRICE_FEN, now))

    outcomes = await settlement.settle_group(
        ctx,
        [
            report(first, TradeState.PAID),
            report(first, TradeState.PAID),  # the same notification again
            report(second, TradeState.CLOSED),  # closed unpaid...
            report(second, TradeState.CLOSED),
            report(first, TradeState.PAID, "T2"),  # a second trade for an order just paid
            report("not-ours", TradeState.PAID),
            report(third, TradeState.WAITING),
        ],
    )
    assert outcomes == [
        "pay_order",
        "nothing",
        "close_payment",
        "nothing",
        "refund",
        "unknown_trade",
        "nothing",
    ]
    async with ctx.read() as conn:
        by_trade = dict((await conn.execute(sa.select(payments.c.out_trade_no, payments.c.status))).all())
        refund = (await conn.execute(sa.select(refunds.c.reason, refunds.c.provider_trade_no))).one()
    assert by_trade == {first: "succeeded", second: "closed", third: "pending"}
    assert tuple(refund) == ("duplicate_payment", f"T2-{first}")


async def test_forged_and_foreign_notifications_in_a_rush_are_refused_and_stored(
    ctx: Context, client: httpx.AsyncClient
) -> None:
    prepared = await bench.prepare_payments(ctx, 2, "grp4")
    good, other = prepared.out_trade_nos
    forged = _form(ctx, other)
    forged["total_amount"] = "0.01"  # the signature no longer holds
    wrong_amount = _form(ctx, other, amount_fen=990)
    answers = await asyncio.gather(
        _post(client, _form(ctx, good)),
        _post(client, forged),
        _post(client, _form(ctx, "NOSUCHTRADE")),
        _post(client, wrong_amount),
    )
    # The answers a notification got when each had a transaction of its own.
    assert answers == ["success", "failure", "failure", "success"]
    async with ctx.read() as conn:
        stored = {
            (row.out_trade_no, row.trade_status, row.total_amount): (row.signature_valid, row.outcome)
            for row in (
                await conn.execute(
                    sa.select(
                        payment_notifications.c.out_trade_no,
                        payment_notifications.c.trade_status,
                        payment_notifications.c.params["total_amount"].as_string().label("total_amount"),
                        payment_notifications.c.signature_valid,
                        payment_notifications.c.outcome,
                    )
                )
            ).all()
        }
    assert stored == {
        (good, "TRADE_SUCCESS", "99.00"): (True, "pay_order"),
        (other, "TRADE_SUCCESS", "0.01"): (False, "rejected"),
        ("NOSUCHTRADE", "TRADE_SUCCESS", "99.00"): (True, "unknown_trade"),
        (other, "TRADE_SUCCESS", "9.90"): (True, "refund"),
    }
    async with ctx.read() as conn:
        status = dict((await conn.execute(sa.select(orders.c.order_no, orders.c.status))).all())
    assert status == {good: "paid", other: "pending_payment"}


async def test_one_identity_paying_several_orders_in_one_group_stays_within_its_annual_limit(
    ctx: Context,
) -> None:
    """Three orders of one identity and one of another, settled together, with room for one order a
    year: the first of the three is paid, the other two refunded; the other identity is paid."""
    limited = ctx.settings.model_copy(update={"annual_limit_fen": 15_000})
    ctx.settings = limited
    prepared = await bench.prepare_payments(ctx, 4, "grp5")
    same = prepared.out_trade_nos[:3]
    async with ctx.transaction() as tx:
        await tx.conn.execute(
            orders.update().where(orders.c.order_no.in_(same)).values(buyer_id_hash="one" * 8)
        )
    now = datetime.now(UTC)
    outcomes = await settlement.settle_group(
        ctx,
        [
            settlement.Report(TradeReport(no, f"T-{no}", TradeState.PAID, bench.SALE_PRICE_FEN, now))
            for no in prepared.out_trade_nos
        ],
    )
    assert outcomes == ["pay_order", "refund", "refund", "pay_order"]
    async with ctx.read() as conn:
        reasons = (await conn.scalars(sa.select(refunds.c.reason))).all()
        status = dict((await conn.execute(sa.select(orders.c.order_no, orders.c.status))).all())
    assert reasons == ["annual_limit", "annual_limit"]
    assert [status[no] for no in prepared.out_trade_nos] == ["paid", "cancelled", "cancelled", "paid"]
    # An identity already at its limit is refused by the group's single upsert, and the group re-judged.
    again = await bench.prepare_payments(ctx, 2, "grp6")
    async with ctx.transaction() as tx:
        await tx.conn.execute(
            orders.update().where(orders.c.order_no == again.out_trade_nos[0]).values(buyer_id_hash="one" * 8)
        )
    outcomes = await settlement.settle_group(
        ctx,
        [
            settlement.Report(TradeReport(no, f"T-{no}", TradeState.PAID, bench.SALE_PRICE_FEN, now))
            for no in again.out_trade_nos
        ],
    )
    assert outcomes == ["refund", "pay_order"]
    async with ctx.read() as conn:
        status = dict((await conn.execute(sa.select(orders.c.order_no, orders.c.status))).all())
        reasons = (await conn.scalars(sa.select(refunds.c.reason))).all()
    assert [status[no] for no in again.out_trade_nos] == ["cancelled", "paid"]
    assert reasons == ["annual_limit"] * 3
