"""Paying orders: starting a payment, settling what the provider reports (notification or query),
and refunding money that cannot be kept (rules 5 and 7).

Every report goes through :func:`settle_group` (notifications grouped by a group committer; the
worker's query and :func:`settle` as a group of one), which locks the payment and the order rows, asks
the domain for a verdict (:func:`flashport.domain.payments.judge`) for each report in order and applies
them under those locks, so a duplicate, late or out-of-order report changes nothing twice. Provider
calls (refunds) happen only after the transaction commits.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from flashport.adapters.db import orders_repo, payments_repo, settlement_repo
from flashport.adapters.db.group_commit import GroupCommitter
from flashport.adapters.identity_vault import mask_id_numbers_in
from flashport.adapters.payments.interface import Buyer, Checkout, PaymentProvider
from flashport.domain.errors import NotFound, ServiceUnavailable
from flashport.domain.limits import customs_year
from flashport.domain.money import format_fen
from flashport.domain.orders import OrderStatus
from flashport.domain.payments import (
    Judgement,
    PaymentStatus,
    RefundReason,
    TradeReport,
    Verdict,
    check_payable,
    judge,
)
from flashport.services.context import Context, Tx
from flashport.services.customs import opening as declaration_opening
from flashport.services.in_time import in_time
from flashport.services.orders import lifecycle as order_service
from flashport.services.orders import quota
from flashport.services.payments import refunds
from flashport.services.payments.views import StartedPayment, started_payment_of

log = logging.getLogger(__name__)


def _provider(ctx: Context) -> PaymentProvider:
    return ctx.payments


async def start_payment(ctx: Context, buyer_id: int, order_no: str) -> StartedPayment:
    """The order's payment (made once; asking again returns the same one) and where to pay it."""
    provider = _provider(ctx)
    async with ctx.read() as conn:
        order = await orders_repo.row_for_buyer(conn, buyer_id, order_no)
    if order is None:
        raise NotFound(f"order {order_no} not found", code="order_not_found")
    check_payable(
        OrderStatus(order.status),
        order.payment_deadline,
        ctx.clock(),
        checked_out=order.checked_out_at is not None,
    )
    payment = await _open_payment(ctx, order)
    checkout = Checkout(
        payment["out_trade_no"],
        payment["amount_fen"],
        f"Flashport order {order_no}",
        order.payment_deadline,
        _buyer_of(ctx, order),
    )
    return started_payment_of(payment, provider.checkout_url(checkout))


def _buyer_of(ctx: Context, order: Any) -> Buyer | None:
    """The order's checked-out buyer, the only person the provider will let pay (rule 8). The ID number
    is opened from the vault for this one call and goes nowhere else."""
    if order.buyer_name is None or order.buyer_id_cipher is None:
        return None
    return Buyer(order.buyer_name, ctx.vault.open(order.buyer_id_cipher))


async def _open_payment(ctx: Context, order: Any) -> Mapping[str, Any]:
    """The order's live payment (a payment row), made now if it has none."""
    for _ in range(3):  # two first requests racing: the loser re-reads the winner's payment
        async with ctx.transaction() as tx:
            # Checkout locks the same row and refuses once a payment exists: the amount we charge is
            # the one a finished checkout left, never one changing under us.
            order = await orders_repo.lock(tx.conn, order.id)
            check_payable(
                OrderStatus(order.status),
                order.payment_deadline,
                tx.now,
                checked_out=order.checked_out_at is not None,
            )
            rows = await payments_repo.of_order(tx.conn, order.id)
            live = next((r for r in rows if r.status != PaymentStatus.CLOSED.value), None)
            if live is not None:
                return live._mapping
            attempt = len(rows) + 1  # a declined (closed) trade cannot be reused: open the next one
            values = {
                "order_id": order.id,
                "order_no": order.order_no,
                "attempt": attempt,
                "provider": _provider(ctx).name,
                "amount_fen": order.total_fen,
                "out_trade_no": order.order_no if attempt == 1 else f"{order.order_no}-{attempt}",
                "status": PaymentStatus.PENDING.value,
                "created_at": tx.now,
                "updated_at": tx.now,
            }
            payment_id = await payments_repo.insert(tx.conn, values)
            if payment_id is None:
                continue
            await tx.emit(
                "payment.created",
                f"order:{order.order_no}",
                {
                    "payment_id": payment_id,
                    "out_trade_no": values["out_trade_no"],
                    "amount": format_fen(order.total_fen),
                },
            )
            return {
                "id": payment_id,
                **values,
                "provider_trade_no": None,
                "payer_name": None,
                "payer_id_masked": None,
                "paid_at": None,
            }
    raise ServiceUnavailable("could not open a payment; please retry", code="payment_busy")


# --- settling what the provider reports, in groups --------------------------------------------------------
# Notifications arriving together are settled together (the buy path's group commit,
# adapters/db/group_commit.py): one transaction locks the group's payments and orders with one statement
# each, judges every report in arrival order against what the reports before it left, and writes the
# results set-based. Every caller is answered after the commit. The worker's recheck and ``settle`` use
# the same core with a group of one.

MAX_GROUP = 500  # reports per transaction: bounded, so one group never holds its locks for long
# Groups in flight per process, and how long a group waits for company before it starts. A group costs
# mostly per statement, not per row: measured with bench-notify, groups formed with no wait held about
# four notifications each, and their statements, not their rows, took most of the CPU.
GROUPS_IN_FLIGHT = 2
GROUP_LINGER_SECONDS = 0.003
REJECTED = "rejected"
UNKNOWN_TRADE = "unknown_trade"


@dataclass(frozen=True)
class Report:
    """One thing the provider said about a trade, to settle. ``report`` is None for a notification
    refused before settling (forged, not ours, malformed): it is only stored, with ``refusal``."""

    report: TradeReport | None
    fields: Mapping[str, str] | None = None  # the notification to store (masked); None for a query
    signature_valid: bool = True
    refusal: str = ""


async def handle_notification(ctx: Context, form: Mapping[str, str]) -> bool:
    """Process one asynchronous notification; True means answer ``success``. Every notification is
    stored with its verification result, accepted or not, in the transaction of its group.

    Within ``payment_notify_deadline_seconds``, or 503 ``service_unavailable`` with Retry-After (the
    database stalled): the provider retries. The notification stays in its group, which is saved and
    settled once the database answers, so the retry is answered ``success`` then (a duplicate changes
    nothing)."""
    check = _provider(ctx).read_notification(form)
    fields = _masked(check.fields if check.signature_valid else _bounded(check.fields))
    if check.report is None:
        log.warning(
            "payment notification rejected: %s (out_trade_no=%s)", check.reason, fields.get("out_trade_no")
        )
        item = Report(None, fields, check.signature_valid, check.reason)
    else:
        item = Report(check.report, fields)
    outcome = await _settled_in_time(_committer(ctx), item, ctx.settings.payment_notify_deadline_seconds)
    return outcome not in (REJECTED, UNKNOWN_TRADE)


async def _settled_in_time(committer: GroupCommitter[Report, str], item: Report, seconds: float) -> str:
    """The group's outcome for ``item``; past ``seconds``, this caller stops waiting for it (the group
    committer writes it anyway: it drops only the answer to a caller gone) and is answered 503."""
    return await in_time(
        committer.submit(item),
        seconds,
        lambda: ServiceUnavailable(
            "the notification could not be settled in time; it will be when retried",
            code="service_unavailable",
        ),
    )


UNSIGNED_FIELDS = 40
UNSIGNED_NAME_CHARS = 64
UNSIGNED_VALUE_CHARS = 256


def _bounded(fields: Mapping[str, str]) -> dict[str, str]:
    """What is kept of a notification that is not the provider's: at most 40 fields, names cut at 64
    characters and values at 256 (a few KB at worst), so anyone posting junk cannot fill the database."""
    kept = list(fields.items())[:UNSIGNED_FIELDS]
    return {name[:UNSIGNED_NAME_CHARS]: value[:UNSIGNED_VALUE_CHARS] for name, value in kept}


def _masked(fields: Mapping[str, str]) -> dict[str, str]:
    """The notification as stored: a standard one carries no ID number, but whatever arrives is kept
    masked."""
    # A NUL cannot be stored in PostgreSQL's text or JSON: it is replaced, the rest is kept as received.
    return {
        name.replace("\x00", "\ufffd"): mask_id_numbers_in(value).replace("\x00", "\ufffd")
        for name, value in fields.items()
    }


async def settle(
    ctx: Context, report: TradeReport, *, source: str, fields: Mapping[str, str] | None = None
) -> str:
    """Apply what the provider says about a trade (``source`` names where it came from: ``query`` or
    ``notification``). Returns the outcome recorded. A group of one, in its own transaction."""
    [outcome] = await settle_group(ctx, [Report(report, fields)])
    return outcome


async def settle_group(ctx: Context, items: Sequence[Report]) -> list[str]:
    """Settle ``items`` in one transaction, in order; the outcome of each (a verdict's value,
    ``unknown_trade`` or ``rejected``). Provider calls (refunds) and stock releases run after the
    commit."""
    after: list[Callable[[], Awaitable[Any]]] = []
    async with ctx.transaction() as tx:
        outcomes = await _settle_within(ctx, tx, items, after)
    for job in after:
        try:
            await job()
        except Exception:  # the commit stands; the worker retries refunds and releases that are due
            log.exception("after-commit step of a payment settlement failed")
    return outcomes


_committers: dict[int, GroupCommitter[Report, str]] = {}


def _committer(ctx: Context) -> GroupCommitter[Report, str]:
    """This context's group committer of notifications, made on first use and dropped with it."""
    key = id(ctx)
    committer = _committers.get(key)
    if committer is None:
        ref = weakref.ref(ctx)  # the committer must not keep its context alive

        async def transact(items: Sequence[Report]) -> list[str]:
            live = ref()
            if live is None:
                raise RuntimeError("the context of this settlement is closed")
            return await settle_group(live, items)

        in_flight = (
            1 if ctx.settings.is_sqlite else min(GROUPS_IN_FLIGHT, ctx.settings.group_commit_in_flight)
        )
        committer = GroupCommitter(
            transact,
            max_batch=MAX_GROUP,
            max_in_flight=in_flight,
            linger_seconds=GROUP_LINGER_SECONDS,
            name="settlements",
        )
        _committers[key] = committer
        weakref.finalize(ctx, _committers.pop, key, None)
    return committer


@dataclass(frozen=True)
class _Locked:
    """The group's rows, locked: payments by out_trade_no, orders by id, sale states by event id, and
    the sale events of each order's lines (a basket's lines may come from several sales)."""

    payments: dict[str, Any]
    orders: dict[str, Any]
    sale_states: dict[int, str]
    line_events: dict[str, set[int]]

    def sale_cancelled(self, order: Any) -> bool:
        """Any sale of the order's lines was called off (a payment for it is then refunded)."""
        events = self.line_events.get(order.id) or {order.event_id}
        return any(self.sale_states.get(event_id) == "cancelled" for event_id in events)


@dataclass(frozen=True)
class _Step:
    """One report judged against what the reports before it in the group left behind."""

    report: TradeReport
    payment: Any
    order: Any
    judgement: Judgement
    payment_pending: bool  # the payment's state when this report is applied


async def _lock(tx: Tx, items: Sequence[Report]) -> _Locked:
    trades = [item.report.out_trade_no for item in items if item.report is not None]
    payment_rows = await settlement_repo.lock_payments(tx.conn, trades)
    order_rows = await settlement_repo.lock_orders(tx.conn, [p.order_id for p in payment_rows])
    # Every line's sale is share-locked, not only the first line's: a basket's other sale called off at
    # the same moment waits for this settlement, or is seen cancelled by it. Single orders (the buy
    # path's) cost no statement more.
    baskets = [o.id for o in order_rows if o.line_count > 1]
    line_events = await settlement_repo.events_of_lines(tx.conn, baskets) if baskets else {}
    event_ids = [o.event_id for o in order_rows] + [e for found in line_events.values() for e in found]
    states = await settlement_repo.share_lock_sale_states(tx.conn, event_ids)
    return _Locked(
        {p.out_trade_no: p for p in payment_rows}, {o.id: o for o in order_rows}, states, line_events
    )


def _plan(items: Sequence[Report], rows: _Locked, refused: set[int]) -> list[_Step | None]:
    """Judge each report in order (:func:`judge`), carrying forward what each verdict does to its payment
    and order, so a duplicate or a late report within the group sees the earlier one's effect. A report
    whose index is in ``refused`` did not fit its identity's annual limit. None: not our trade."""
    pay_status = {p.id: PaymentStatus(p.status) for p in rows.payments.values()}
    pay_trade = {p.id: p.provider_trade_no for p in rows.payments.values()}
    order_status = {o.id: OrderStatus(o.status) for o in rows.orders.values()}
    steps: list[_Step | None] = []
    for index, item in enumerate(items):
        report = item.report
        payment = rows.payments.get(report.out_trade_no) if report is not None else None
        if report is None or payment is None:
            steps.append(None)
            continue
        order = rows.orders[payment.order_id]
        judgement = judge(
            report,
            payment_status=pay_status[payment.id],
            payment_amount_fen=payment.amount_fen,
            payment_trade_no=pay_trade[payment.id],
            order_status=order_status[order.id],
            order_deadline=order.payment_deadline,
            sale_cancelled=rows.sale_cancelled(order),
        )
        if judgement.verdict is Verdict.PAY_ORDER and index in refused:
            judgement = Judgement(Verdict.REFUND, RefundReason.ANNUAL_LIMIT, RefundReason.ANNUAL_LIMIT.value)
        pending = pay_status[payment.id] is PaymentStatus.PENDING
        steps.append(_Step(report, payment, order, judgement, pending))
        verdict, reason = judgement.verdict, judgement.refund_reason
        if verdict is Verdict.NOTHING:
            continue
        if verdict is Verdict.CLOSE_PAYMENT:
            pay_status[payment.id] = PaymentStatus.CLOSED
            continue
        if pending and reason in UNUSABLE_TRADES:
            pay_status[payment.id] = PaymentStatus.CLOSED
        elif pending:
            pay_status[payment.id], pay_trade[payment.id] = PaymentStatus.SUCCEEDED, report.trade_no
        if verdict is Verdict.PAY_ORDER:
            order_status[order.id] = OrderStatus.PAID
        elif order_status[order.id] is OrderStatus.PENDING_PAYMENT and (
            verdict is Verdict.EXPIRE_AND_REFUND or reason in ORDER_CLOSING_REFUNDS
        ):
            expire = verdict is Verdict.EXPIRE_AND_REFUND
            order_status[order.id] = OrderStatus.EXPIRED if expire else OrderStatus.CANCELLED
    return steps


def _payments_of(steps: Sequence[_Step | None]) -> list[tuple[int, _Step]]:
    return [(i, s) for i, s in enumerate(steps) if s is not None and s.judgement.verdict is Verdict.PAY_ORDER]


async def _settle_within(
    ctx: Context, tx: Tx, items: Sequence[Report], after: list[Callable[[], Awaitable[Any]]]
) -> list[str]:
    rows = await _lock(tx, items)
    steps = _plan(items, rows, set())
    paying = _payments_of(steps)
    refused = await _reserve_quotas(ctx, tx, paying)
    if refused:
        # A refusal changes what later reports about the same order see: judge the group again. The
        # orders paid can only shrink by the refused ones (an order's first payment is the only one
        # that reserves), so the reservations made stay exactly the ones used.
        steps = _plan(items, rows, refused)
        if {i for i, _ in _payments_of(steps)} != {i for i, _ in paying} - refused:
            raise RuntimeError("a settlement group changed its payments on re-judging")
    outcomes: list[str] = []
    notes: list[settlement_repo.StoredNotification] = []
    to_pay: list[_Step] = []
    for item, step in zip(items, steps, strict=True):
        if item.report is None:
            outcome, note = REJECTED, item.refusal
        elif step is None:
            outcome, note = UNKNOWN_TRADE, "no payment with this out_trade_no"
        else:
            verdict = step.judgement.verdict
            if verdict is Verdict.PAY_ORDER:
                to_pay.append(step)
            elif verdict is not Verdict.NOTHING:
                # Rare (refunds, closings): written one by one, after the payments judged before it.
                await _pay_orders(ctx, tx, to_pay)
                to_pay = []
                await _apply(ctx, tx, step, after)
            outcome, note = verdict.value, step.judgement.note
        outcomes.append(outcome)
        if item.fields is not None:
            notes.append(settlement_repo.StoredNotification(item.fields, item.signature_valid, outcome, note))
    await _pay_orders(ctx, tx, to_pay)
    await settlement_repo.record_notifications(tx.conn, notes, tx.now)
    return outcomes


async def _reserve_quotas(ctx: Context, tx: Tx, paying: Sequence[tuple[int, _Step]]) -> set[int]:
    """Rule 8 at the moment money arrives: each order about to be paid must fit its identity's yearly
    limit (an atomic reservation, so two orders of one identity paying at once cannot both squeeze
    under it). One upsert for every identity that appears once in the group; an identity with several
    orders in it reserves them one at a time, in order. The indices refused.

    Payer = buyer is not checked here: the trade was opened for the buyer alone (``ext_user_info``
    with ``need_check_info`` = ``T``), so the provider refused anyone else at payment time; a standard
    notification carries no payer identity to compare. The payment company checks it once more when
    it declares the payment to customs (``identity_check``, see ``services.customs.partners``)."""
    keyed: dict[tuple[str, int], list[tuple[int, _Step]]] = {}
    for index, step in paying:
        if step.order.buyer_id_hash is None:
            continue  # no checkout (orders from before compliance); no identity to count against
        year = customs_year(step.report.paid_at or tx.now)
        keyed.setdefault((step.order.buyer_id_hash, year), []).append((index, step))
    single = {key: group[0] for key, group in keyed.items() if len(group) == 1}
    fitted = await settlement_repo.reserve_quotas(
        tx.conn,
        [(h, y, quota.quota_of(step.order)) for (h, y), (_, step) in single.items()],
        ctx.settings.annual_limit_fen,
        tx.now,
    )
    refused = {index for key, (index, _) in single.items() if key not in fitted}
    for group in keyed.values():
        if len(group) > 1:
            for index, step in group:
                if not await quota.reserve_order_quota_within(
                    ctx, tx, step.order, step.report.paid_at or tx.now
                ):
                    refused.add(index)
    return refused


@dataclass
class _BufferedTx(Tx):
    """The group's transaction, its outbox records held back so all of them go in one statement."""

    records: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)

    async def emit(self, type_: str, subject: str, payload: dict[str, Any]) -> None:
        self.records.append((type_, subject, payload))


async def _pay_orders(ctx: Context, tx: Tx, steps: Sequence[_Step]) -> None:
    """Pay these orders, set-based: their payments succeeded (if still pending), the orders paid, their
    units sold, their declarations opened, and every outbox record of it in one statement."""
    if not steps:
        return
    await settlement_repo.mark_succeeded_many(
        tx.conn,
        [
            # The payer is the identity the trade was opened for: the provider let no one else pay it.
            settlement_repo.Succeeded(
                s.payment.id,
                s.report.trade_no,
                s.order.buyer_name,
                s.order.buyer_id_cipher,
                s.order.buyer_id_masked,
                s.report.paid_at or tx.now,
            )
            for s in steps
            if s.payment_pending
        ],
        tx.now,
    )
    await settlement_repo.mark_paid_many(tx.conn, [(s.order.id, s.report.paid_at or tx.now) for s in steps])
    buffered = _BufferedTx(tx.conn, tx.now)
    # One confirm per line: a checked-out basket's lines are each sold on their own item (their lines
    # are read in one query for the group; an order of one line is its own row, as before). By item,
    # as an expiry sweep touches items, so the two lock sale items' rows in the same order.
    lines = await orders_repo.per_line(tx.conn, [s.order for s in steps])
    for line in sorted(lines, key=lambda line: line["sale_item_id"]):
        await ctx.stock.confirm_within(tx.conn, line)
    for s in steps:
        if s.payment_pending:
            await buffered.emit(*_succeeded_record(s.report, s.payment, s.order))
        await buffered.emit(
            "order.paid",
            f"order:{s.order.order_no}",
            {
                "order_id": s.order.id,
                "order_no": s.order.order_no,
                "trade_no": s.report.trade_no,
                "amount": format_fen(s.report.amount_fen),
            },
        )
        if s.order.checked_out_at is not None:  # orders from before checkout have nothing to declare
            await declaration_opening.open_within(buffered, s.order)
    await tx.emit_many(buffered.records)


async def _apply(ctx: Context, tx: Tx, step: _Step, after: list[Callable[[], Awaitable[Any]]]) -> None:
    """Carry out a verdict other than paying the order (closing, refunding), one report at a time."""
    judgement, report, payment, order = step.judgement, step.report, step.payment, step.order
    verdict = judgement.verdict
    if verdict is Verdict.CLOSE_PAYMENT:
        await payments_repo.close(tx.conn, payment.id, tx.now)
        await tx.emit("payment.closed", f"order:{order.order_no}", {"payment_id": payment.id})
        return
    if step.payment_pending:
        if (
            judgement.refund_reason in UNUSABLE_TRADES
        ):  # a trade this order cannot keep: the buyer may pay anew
            await payments_repo.close(tx.conn, payment.id, tx.now)
        else:  # the money was taken under this payment, even if it has to go back
            await _mark_succeeded(tx, report, payment, order)
    if verdict is Verdict.EXPIRE_AND_REFUND or judgement.refund_reason in ORDER_CLOSING_REFUNDS:
        # Past its deadline, never payable within the yearly limit, or its sale is off: the order
        # closes and its units return.
        to = OrderStatus.EXPIRED if verdict is Verdict.EXPIRE_AND_REFUND else OrderStatus.CANCELLED
        closed = await order_service.close_within(ctx, tx, order.id, to)
        if closed is not None and closed.owed:
            owed = closed.owed
            after.append(lambda: order_service.release_after_commit(ctx, owed))
    assert judgement.refund_reason is not None
    refund_id = await refunds.request_within(
        tx, payment, report.trade_no, report.amount_fen, judgement.refund_reason, order.order_no
    )
    if refund_id is not None:
        after.append(lambda: refunds.refund_now(ctx, refund_id))


ORDER_CLOSING_REFUNDS = frozenset({RefundReason.ANNUAL_LIMIT, RefundReason.SALE_CANCELLED})
# A refund for these reasons also closes the payment: the buyer may pay the order anew (correctly).
UNUSABLE_TRADES = frozenset(
    {RefundReason.AMOUNT_MISMATCH, RefundReason.PAYER_MISMATCH, RefundReason.ANNUAL_LIMIT}
)


def _succeeded_record(report: TradeReport, payment: Any, order: Any) -> tuple[str, str, dict[str, Any]]:
    return (
        "payment.succeeded",
        f"order:{order.order_no}",
        {
            "payment_id": payment.id,
            "out_trade_no": payment.out_trade_no,
            "trade_no": report.trade_no,
            "amount": format_fen(report.amount_fen),
            "payer_name": order.buyer_name,
            "payer_id_number": order.buyer_id_masked,
        },
    )


async def _mark_succeeded(tx: Tx, report: TradeReport, payment: Any, order: Any) -> None:
    # The payer is the identity the trade was opened for: the provider let no one else pay it.
    await payments_repo.mark_succeeded(
        tx.conn,
        payment.id,
        trade_no=report.trade_no,
        payer_name=order.buyer_name,
        payer_id_cipher=order.buyer_id_cipher,
        payer_id_masked=order.buyer_id_masked,
        paid_at=report.paid_at or tx.now,
        now=tx.now,
    )
    await tx.emit(*_succeeded_record(report, payment, order))


async def recheck_pending_payments(ctx: Context, *, batch: int = 100) -> int:
    """Ask the provider about payments that stayed pending too long (a lost notification) and settle
    them as if notified; each pending payment is asked about at most once per recheck interval.
    Returns how many reports changed something."""
    provider = _provider(ctx)
    now = ctx.clock()
    due = now - timedelta(seconds=ctx.settings.payment_recheck_seconds)
    async with ctx.read() as conn:
        rows = await payments_repo.pending_due_for_recheck(conn, due, batch)
    changed = 0
    for row in rows:
        report, exchange = await provider.query(row.out_trade_no)
        await refunds.record_exchange(ctx, row.id, exchange)
        async with ctx.transaction() as tx:
            await payments_repo.mark_checked(tx.conn, row.id, tx.now)
        if report is not None and await settle(ctx, report, source="query") != Verdict.NOTHING.value:
            changed += 1
    return changed
