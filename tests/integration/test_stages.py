"""The stages after declaring, on both backends: customs statuses beyond release and rejection (manual
review, inspection, detention, return, closing, processing errors) each give the declaration a state,
and those no automatic step can cure land on the operator's worklist with an error line; customs'
own Chinese wording of a limit is refunded at once; the inbox is read by one worker at a time and a
page applied twice applies nothing twice; shipping takes batches, each parcel shipped once by two
workers at once; a failing carrier slows shipping alone while declaring and receipts go on."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import sqlalchemy as sa

from flashport.adapters.customs.gateway import InboxItem
from flashport.adapters.db.schema import customs_messages, customs_receipts, declarations, outbox, refunds
from flashport.adapters.logistics.interface import LogisticsProvider, LogisticsUnavailable, Waybill
from flashport.bootstrap import build_context, close_context
from flashport.ceb import Receipt, ReceiptKind, receipt_message
from flashport.domain.accounts import Role
from flashport.services.context import Context
from flashport.services.customs import declaring, fulfilment, receipts, worklist
from flashport.web import console_labels, i18n
from flashport.worker import STAGES, Wakeups, idle_wait, run_forever, run_stage
from tests.integration import test_declarations as four_parties
from tests.integration import test_operator_pages as operator_pages
from tests.integration.test_declarations import Parties

# The fixtures of the modules these tests share: the four real parties, and the operator's pages.
parties = four_parties.parties
web = operator_pages.web

# (status, state it moves a matched declaration to, on the worklist)
NEW_STATUSES = [
    (300, "under_review", False),
    (399, "reviewed", False),
    (500, "inspection", False),
    (501, "detained", True),
    (502, "detained", True),
    (503, "detained", True),
    (599, "detained", True),
    (700, "returned", True),
    (899, "released", False),
    (-301010, "rejected", True),
]


def _page(seq: int, guid: str, status: int, info: str, cop_no: str | None = None) -> InboxItem:
    keys = {"copNo": cop_no} if cop_no else {}
    receipt = Receipt(ReceiptKind.INVENTORY, guid, keys, status, datetime.now(UTC), info)
    return InboxItem(seq, "CEB622", receipt_message([receipt]))


async def _guid(ctx: Context, message_id: int) -> str:
    async with ctx.read() as conn:
        return str(
            await conn.scalar(sa.select(customs_messages.c.guid).where(customs_messages.c.id == message_id))
        )


@pytest.mark.parametrize(("status", "state", "attention"), NEW_STATUSES)
async def test_each_customs_status_moves_to_its_state_and_the_incurable_ones_reach_the_worklist(
    ctx: Context,
    web: httpx.AsyncClient,
    caplog: pytest.LogCaptureFixture,
    status: int,
    state: str,
    attention: bool,
) -> None:
    declared = await operator_pages.declared_order(ctx, state="matched")
    guid = await _guid(ctx, declared.message_id)
    with caplog.at_level(logging.ERROR, logger="flashport.services.customs.receipts"):
        moved = await receipts.apply_page(ctx, "DXPTEST", [_page(10_000, guid, status, "海关处理意见")])
    assert moved == 1
    await operator_pages.log_in(web, ctx, Role.OPERATOR)
    listing = (await web.get("/operator/declarations?state=needs_attention")).text
    worklist_rows = operator_pages.listed(listing)
    page = (await web.get(f"/operator/declarations/{declared.order_no}")).text
    assert f'decl-badge-{state}">{console_labels.label(i18n.EN, state)}</span>' in page  # code, label
    if attention:
        assert worklist_rows == [declared.order_no]
        assert "Needs attention" in page and "海关处理意见" in page
        errors = [r for r in caplog.records if r.levelno == logging.ERROR]
        assert len(errors) == 1 and declared.order_no in errors[0].getMessage()
        assert str(status) in errors[0].getMessage()
    else:
        assert worklist_rows == [] and not caplog.records
    count = f'state=needs_attention"[^>]*>Needs attention <span class="state-count">{int(attention)}</span>'
    assert operator_pages.re.search(count, listing)


async def test_after_detention_customs_may_still_release_and_a_late_review_never_moves_it_back(
    ctx: Context,
) -> None:
    declared = await operator_pages.declared_order(ctx, state="matched")
    guid = await _guid(ctx, declared.message_id)
    pages = [
        _page(20_001, guid, 500, "查验"),
        _page(20_002, guid, 501, "扣留"),
        _page(20_003, guid, 300, "人工审核"),
    ]
    assert await receipts.apply_page(ctx, "DXPTEST", pages) == 2  # inspection, detained; not review
    assert await receipts.apply_page(ctx, "DXPTEST", [_page(20_004, guid, 800, "放行")]) == 1
    async with ctx.read() as conn:
        row = (
            await conn.execute(sa.select(declarations).where(declarations.c.order_no == declared.order_no))
        ).one()
    assert row.state == "released" and row.attention_reason is not None  # flagged until an operator acts


async def test_receipts_arriving_before_the_declaration_is_marked_declared_are_applied_after(
    ctx: Context,
) -> None:
    """Customs answers within moments; the worker marks the declaration declared after its last
    document. Its receipts are kept until then, not lost."""
    declared = await operator_pages.declared_order(ctx, state="pending")
    guid = await _guid(ctx, declared.message_id)
    early = [
        _page(40_001, guid, 2, "发送海关成功"),
        _page(40_002, guid, 120, "海关入库"),
        _page(40_003, guid, 800, "放行"),
    ]
    assert await receipts.apply_page(ctx, "DXPTEST", early) == 0
    assert await receipts.apply_deferred(ctx) == 0  # still pending: nothing yet
    async with ctx.transaction() as tx:  # what declaring does after the last document
        await tx.conn.execute(
            declarations.update().where(declarations.c.order_no == declared.order_no).values(state="declared")
        )
    assert await receipts.apply_deferred(ctx) == 3
    assert await receipts.apply_deferred(ctx) == 0  # once
    async with ctx.read() as conn:
        state = await conn.scalar(
            sa.select(declarations.c.state).where(declarations.c.order_no == declared.order_no)
        )
        flags = (
            await conn.execute(
                sa.select(customs_receipts.c.applied, customs_receipts.c.deferred).where(
                    customs_receipts.c.seq > 40_000
                )
            )
        ).all()
    assert state == "released" and [tuple(f) for f in flags] == [(True, False)] * 3


async def test_a_page_applied_twice_at_once_applies_each_receipt_once(ctx: Context) -> None:
    """Two readers holding the same page (a lease that ran out meanwhile): the second stores and
    applies nothing."""
    declared = [await operator_pages.declared_order(ctx, state="declared") for _ in range(3)]
    items = []
    for n, d in enumerate(declared):
        guid = await _guid(ctx, d.message_id)
        items.append(_page(30_000 + 3 * n, guid, 2, "发送海关成功"))
        items.append(_page(30_001 + 3 * n, guid, 120, "海关入库"))
        items.append(_page(30_002 + 3 * n, guid, 800, "放行"))
    second = await build_context(ctx.settings, listen_for_restock=False)
    try:
        moved = await asyncio.gather(
            receipts.apply_page(ctx, "DXPTEST", items), receipts.apply_page(second, "DXPTEST", items)
        )
    finally:
        await close_context(second)
    assert sorted(moved) == [0, 9]
    async with ctx.read() as conn:
        stored = (
            await conn.execute(
                sa.select(customs_receipts.c.seq, sa.func.count())
                .where(customs_receipts.c.seq >= 30_000)
                .group_by(customs_receipts.c.seq)
            )
        ).all()
        states = set((await conn.scalars(sa.select(declarations.c.state))).all())
    assert len(stored) == 9 and all(n == 1 for _, n in stored) and states == {"released"}


async def test_one_worker_reads_the_inbox_at_a_time_and_the_next_goes_on_from_where_it_stopped(
    parties: Parties,
) -> None:
    first = await parties.paid_order()
    await _declare(parties, first)
    second = await build_context(parties.ctx.settings, listen_for_restock=False)
    try:
        dxp_id = parties.ctx.settings.customs_dxp_id
        async with parties.ctx.transaction() as tx:  # the first worker is reading (holds the lease)
            now = tx.now
            assert (
                await receipts.stages_repo.take_inbox_lease(
                    tx.conn, dxp_id, receipts.reader_id(parties.ctx), now, now + receipts.LEASE
                )
                == 0
            )
        assert await receipts.poll_receipts(second) == 0  # skips: it neither reads nor applies
        assert await parties.state(first) == "declared"
        async with parties.ctx.transaction() as tx:  # the first worker takes one page, then stops
            await receipts.stages_repo.give_back_inbox_lease(tx.conn, dxp_id, receipts.reader_id(parties.ctx))
        page = await parties.ctx.customs.fetch(dxp_id, 0, 1)
        await receipts.apply_page(parties.ctx, dxp_id, page)
        await parties.until(lambda: _poll_and_state(second, parties, first), "released")
    finally:
        await close_context(second)
    detail = await parties.detail(first)
    applied = [(r["return_status"], r["applied"]) for r in detail["receipts"] if r["kind"] == "CEB622"]
    assert sorted(applied) == [(2, True), (120, True), (800, True)]
    events = await parties.events(first)
    assert [events.count(e) for e in ("declaration.received", "declaration.released")] == [1, 1]


async def _poll_and_state(ctx: Context, parties: Parties, order_no: str) -> str | None:
    await receipts.poll_receipts(ctx)
    return await parties.state(order_no)


async def _declare(parties: Parties, order_no: str) -> None:
    async def declared() -> str | None:
        await declaring.declare_pending(parties.ctx)
        return await parties.state(order_no)

    await parties.until(declared, "declared")


async def _release(parties: Parties, order_nos: list[str]) -> None:
    async def released() -> str:
        await declaring.declare_pending(parties.ctx)
        await receipts.poll_receipts(parties.ctx)
        return ",".join([str(await parties.state(o)) for o in order_nos])

    await parties.until(released, ",".join(["released"] * len(order_nos)))


async def test_shipping_takes_batches_and_two_workers_ship_each_parcel_once(parties: Parties) -> None:
    order_nos = [await parties.paid_order() for _ in range(5)]
    await _release(parties, order_nos)
    second = await build_context(parties.ctx.settings, listen_for_restock=False)
    shipped: list[int] = []
    try:
        for _ in range(5):
            shipped += await asyncio.gather(
                fulfilment.ship_released(parties.ctx, batch=2), fulfilment.ship_released(second, batch=2)
            )
    finally:
        await close_context(second)
    assert sum(shipped) == 5 and max(shipped) <= 2  # batches of at most two, five parcels in all
    for order_no in order_nos:
        assert await parties.state(order_no) == "shipped"
        assert (await parties.events(order_no)).count("order.shipped") == 1
        waybill = await parties.carrier.get(
            f"/v1/waybills/{(await parties.detail(order_no))['logistics_no']}"
        )
        assert waybill.json()["status"] == "in_transit"


async def test_customs_chinese_wording_of_the_annual_limit_is_refunded_at_once(parties: Parties) -> None:
    order_no = await parties.paid_order()
    await _declare(parties, order_no)
    detail = await parties.detail(order_no)
    inventory = next(m for m in detail["messages"] if m["kind"] == "CEB621")
    rejection = _page(10**9, inventory["guid"], 100, "订购人年度额度超限", detail["cop_no"])
    assert await receipts.apply_page(parties.ctx, parties.ctx.settings.customs_dxp_id, [rejection]) == 1
    detail = await parties.detail(order_no)
    assert detail["state"] == "rejected" and detail["reason_code"] == "annual_limit_exceeded"
    assert await fulfilment.refund_unfixed(parties.ctx) == 1  # no fix window: refunded now
    assert await parties.state(order_no) == "refunded"
    async with parties.ctx.read() as conn:
        refund = (await conn.execute(sa.select(refunds.c.reason, refunds.c.status))).one()
    assert refund.reason == "customs_rejected" and refund.status == "succeeded"


async def test_a_declaration_failing_again_and_again_lands_on_the_worklist_with_an_error_line(
    parties: Parties, caplog: pytest.LogCaptureFixture
) -> None:
    order_no = await parties.paid_order()
    async with parties.ctx.transaction() as tx:  # as after N failed sending attempts
        await tx.conn.execute(
            declarations.update()
            .where(declarations.c.order_no == order_no)
            .values(
                attempts=worklist.ATTENTION_AFTER_ATTEMPTS,
                last_error="CustomsUnavailable: single window answered 503",
                next_attempt_at=tx.now + timedelta(hours=1),
            )
        )
    with caplog.at_level(logging.ERROR, logger="flashport.services.customs.worklist"):
        assert await worklist.flag_stuck(parties.ctx) == 1
        assert await worklist.flag_stuck(parties.ctx) == 0  # flagged (and logged) once
    [line] = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert order_no in line and "503" in line
    listed = (await parties.platform.get("/api/v1/declarations", params={"needs_attention": "true"})).json()
    assert [d["order_no"] for d in listed["items"]] == [order_no] and listed["needing_attention"] == 1
    assert "503" in listed["items"][0]["attention_reason"]
    assert "declaration.needs_attention" in await parties.events(order_no)


class _CarrierThatCannotPickUp:
    """The sandbox carrier, except that its pick-up (dispatch) is down: waybills and their CEB511 go on."""

    def __init__(self, carrier: LogisticsProvider) -> None:
        self._carrier = carrier
        self.dispatch_calls = 0

    def __getattr__(self, name: str) -> object:
        return getattr(self._carrier, name)

    async def dispatch(self, logistics_no: str) -> Waybill:
        self.dispatch_calls += 1
        raise LogisticsUnavailable("pick-up service down")


async def test_a_failing_carrier_slows_only_shipping_while_declaring_and_receipts_go_on(
    parties: Parties,
) -> None:
    ctx = parties.ctx
    real = ctx.logistics
    down = _CarrierThatCannotPickUp(real)
    ctx.logistics = down  # type: ignore[assignment]
    stop = asyncio.Event()
    order_nos = [await parties.paid_order() for _ in range(2)]
    worker = asyncio.create_task(run_forever(ctx, stop))
    try:
        for order_no in order_nos:
            await parties.until(lambda o=order_no: parties.state(o), "released", tries=300)
        for _ in range(100):  # the shipping stage tries them
            if down.dispatch_calls >= len(order_nos):
                break
            await asyncio.sleep(0.05)
        calls = down.dispatch_calls
        await asyncio.sleep(1.0)  # the shipping stage backs off: a few tries, not one per poll
        assert calls >= 1 and down.dispatch_calls - calls <= 2 * len(order_nos)
    finally:
        stop.set()
        await asyncio.wait_for(worker, 20)  # a clean stop: each stage finishes its batch
        ctx.logistics = real
    assert [await parties.state(o) for o in order_nos] == ["released", "released"]
    await parties.until(lambda: _ship_and_state(ctx, parties, order_nos[-1]), "shipped", tries=100)


async def _ship_and_state(ctx: Context, parties: Parties, order_no: str) -> str | None:
    async with ctx.transaction() as tx:  # do not wait out the back-off
        await tx.conn.execute(declarations.update().values(next_attempt_at=tx.now))
    await fulfilment.ship_released(ctx)
    return await parties.state(order_no)


async def test_a_paid_order_is_handed_from_stage_to_stage_without_waiting_out_the_poll_interval(
    parties: Parties,
) -> None:
    """With a poll interval far beyond the test's patience, each stage polls once at the start (only
    declaring finds work then); receipts and shipping then run only because the stage before woke them."""
    ctx = parties.ctx
    order_no = await parties.paid_order()
    patient = ctx.settings
    ctx.settings = patient.model_copy(update={"worker_poll_seconds": 600.0, "partner_poll_seconds": 600.0})
    stop = asyncio.Event()
    worker = asyncio.create_task(run_forever(ctx, stop))
    try:
        await parties.until(lambda: parties.state(order_no), "shipped", tries=300)
    finally:
        stop.set()
        await asyncio.wait_for(worker, 20)
        ctx.settings = patient


async def test_an_idle_stage_waits_longer_each_empty_poll_up_to_its_bound_and_a_wake_cuts_it_short() -> None:
    assert [idle_wait(0.5, n, 8) for n in range(6)] == [0.5, 0.5, 1.0, 2.0, 4.0, 4.0]
    assert idle_wait(1.0, 10, 1) == 1.0  # no back-off
    # A stage idle for hours: 2.0 ** 1024 overflowed and the worker died after about 1,000 empty polls.
    assert [idle_wait(0.5, n, 8) for n in (1_025, 10**6)] == [4.0, 4.0]
    wakeups, stop = Wakeups(["receipts_applied"]), asyncio.Event()
    wakeups.wake(["receipts_applied", "not_a_stage"])
    await asyncio.wait_for(wakeups.wait("receipts_applied", stop, 600), 5)  # woken before: at once
    waiting = asyncio.create_task(wakeups.wait("receipts_applied", stop, 600))
    await asyncio.sleep(0)
    assert not waiting.done()  # the flag was cleared by the last wait
    wakeups.wake(["receipts_applied"])
    await asyncio.wait_for(waiting, 5)
    stop.set()
    await asyncio.wait_for(wakeups.wait("receipts_applied", stop, 600), 5)  # stopping ends any wait


async def test_a_stage_stops_when_told_and_every_job_has_a_stage(ctx: Context) -> None:
    assert {stage.name for stage in STAGES} >= {"declared", "receipts_applied", "shipped"}
    stop = asyncio.Event()
    stop.set()
    await asyncio.wait_for(run_stage(ctx, STAGES[0], stop), 1)  # returns at once when stopped


async def test_a_rejection_in_a_page_moves_alone_and_the_others_move_together_each_recorded_in_order(
    ctx: Context,
) -> None:
    """A page's plain moves (received, matched, released) go set-based; a rejection among them goes
    its own way, holds nobody back, and every order's outbox records keep the order of its receipts."""
    released, rejected = [await operator_pages.declared_order(ctx, state="declared") for _ in range(2)]
    released_guid, rejected_guid = (
        await _guid(ctx, released.message_id),
        await _guid(ctx, rejected.message_id),
    )
    page = [
        _page(50_001, released_guid, 2, "发送海关成功"),
        _page(50_002, rejected_guid, 2, "发送海关成功"),
        _page(50_003, released_guid, 120, "海关入库"),
        _page(50_004, rejected_guid, 100, "订购人超过年度限额"),
        _page(50_005, released_guid, 800, "放行"),
    ]
    assert await receipts.apply_page(ctx, "DXPTEST", page) == 5
    async with ctx.read() as conn:
        states = dict((await conn.execute(sa.select(declarations.c.order_no, declarations.c.state))).all())
        records = (
            await conn.execute(
                sa.select(outbox.c.subject, outbox.c.type)
                .where(outbox.c.type.like("declaration.%") | (outbox.c.type == "shipment.milestone"))
                .where(outbox.c.subject.in_([f"order:{released.order_no}", f"order:{rejected.order_no}"]))
                .order_by(outbox.c.id)
            )
        ).all()
    assert states[released.order_no] == "released" and states[rejected.order_no] == "rejected"
    by_order: dict[str, list[str]] = {}
    for subject, type_ in records:
        by_order.setdefault(subject, []).append(type_)
    moved = [t for t in by_order[f"order:{released.order_no}"] if t != "declaration.declared"]
    assert moved == [
        "declaration.received",
        "declaration.matched",
        "declaration.released",
        "shipment.milestone",
    ]
    assert [t for t in by_order[f"order:{rejected.order_no}"] if t != "declaration.declared"] == [
        "declaration.received",
        "declaration.rejected",
    ]
