"""``flashport worker``: the background process. Every job here is idempotent and safe to run in
several workers at once (each order is moved by exactly one of them), and its queue is the database
itself, so a restart loses nothing.

Each job is a *stage* with its own loop (:func:`run_forever` runs them as tasks of one process):
expiry, payment rechecks, refunds, declaring, receipts, shipping, refunds of unfixed rejections,
withdrawal, and the worklist sweep. A stage works on one bounded batch at a time, polls again at once
after a full batch (more is waiting; declaring, whose batch is its own, after any work), and otherwise
waits the poll interval. An idle stage waits longer each time it finds nothing (twice as long, up to
``worker_idle_backoff`` times its interval), and a stage that did work wakes at once the stages its
work feeds (:attr:`Stage.wakes`: declaring wakes receipts, receipts wake shipping, every state change
wakes the outbox readers), so a quiet worker polls little and a busy one hands work on without
waiting. Work committed by another process (the API settles a payment) wakes its stage through
PostgreSQL's ``NOTIFY`` (:mod:`flashport.adapters.db.wake_listener`); polling stays the fallback.
When its partner fails (down, or the carrier took nothing) a stage alone backs off, doubling up to
:data:`MAX_BACKOFF_SECONDS`, while the other stages go on (any other failure: logged, retried after
five intervals). SIGTERM lets every stage finish the batch in hand and stop. :func:`run_once` runs
every job once, in order, as a single pass (tests, scripts).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field

from flashport import task_dump
from flashport.adapters import metrics
from flashport.adapters.customs.gateway import CustomsRefused, CustomsUnavailable
from flashport.adapters.db.wake_listener import WakeListener, connector
from flashport.adapters.logistics.interface import LogisticsRefused, LogisticsUnavailable
from flashport.adapters.partner_bus import BusUnavailable
from flashport.bootstrap import build_context, close_context
from flashport.services.aftersales import returns, withdrawals
from flashport.services.context import Context
from flashport.services.customs import declaring, fulfilment, receipts, withdrawal, worklist
from flashport.services.notify import queueing as notify_queue
from flashport.services.notify import sending as notify_send
from flashport.services.orders import lifecycle as orders
from flashport.services.partners import jobs as partner_jobs
from flashport.services.partners import stream as partner_stream
from flashport.services.payments import refunds
from flashport.services.payments import settlement as payments
from flashport.services.sales import inventory
from flashport.settings import Settings

log = logging.getLogger("flashport.worker")

MAX_BACKOFF_SECONDS = 60.0
# A partner's failure: expected now and then, logged without a traceback.
PARTNER_FAILURES = (
    CustomsUnavailable,
    CustomsRefused,
    LogisticsUnavailable,
    LogisticsRefused,
    fulfilment.PartnerFailing,
    BusUnavailable,
)


def _did_work(done: int) -> bool:
    return done > 0


def _expiry_batch_full(done: int) -> bool:
    # Read at call time: a deployment (or a test) may tune the budget.
    return done >= orders.EXPIRY_PASS_LIMIT


def _full(batch: int) -> Callable[[int], bool]:
    """Again at once only after a full batch: a stage that took less has drained its queue, and
    waiting the interval lets the next batch grow (a few big batches cost far less than many tiny
    ones, and the stages share one process)."""
    return lambda done: done >= batch


@dataclass(frozen=True)
class Stage:
    """One job of the worker: its name in :func:`run_once`'s result, the job, and when to poll again
    at once rather than after the interval."""

    name: str
    job: Callable[[Context], Awaitable[int]]
    again_at_once: Callable[[int], bool] = field(default=_did_work)
    # How long it waits when idle, if not the worker's poll interval (the partner stages: a quick hand
    # from one to the next keeps commit-to-delivery short).
    poll_seconds: Callable[[Settings], float] | None = None
    # The stages this one's work gives work to, woken at once when it did some (with OUTBOX_READERS).
    wakes: tuple[str, ...] = ()


# Every stage that moves something writes outbox records: these read them.
OUTBOX_READERS = ("partner_events", "notifications_queued")


class Wakeups:
    """How the stages of one process hand work on: one flag per stage, raised by the stages that feed
    it, which cuts its idle wait short."""

    def __init__(self, names: Iterable[str]) -> None:
        self._flags = {name: asyncio.Event() for name in names}

    def wake(self, names: Iterable[str]) -> None:
        for name in names:
            if (flag := self._flags.get(name)) is not None:
                flag.set()

    async def wait(self, name: str, stop: asyncio.Event, seconds: float) -> None:
        """Until ``name`` is woken, ``stop`` is set or ``seconds`` pass; clears the flag."""
        flag = self._flags.setdefault(name, asyncio.Event())
        if not flag.is_set():
            waits = [asyncio.ensure_future(flag.wait()), asyncio.ensure_future(stop.wait())]
            try:
                await asyncio.wait(waits, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for waiting in waits:
                    waiting.cancel()
        flag.clear()


def idle_wait(interval: float, idle_polls: int, backoff: float) -> float:
    """How long a stage waits after ``idle_polls`` polls in a row that found nothing: its interval,
    doubled each time, at most ``backoff`` times the interval. (The doublings are capped: a stage idle
    for a day polls tens of thousands of times, and 2.0 ** 1024 is a float overflow.)"""
    return interval * min(2.0 ** min(max(idle_polls - 1, 0), 60), max(backoff, 1.0))


def _partner_poll(settings: Settings) -> float:
    return min(settings.worker_poll_seconds, settings.partner_poll_seconds)


# Jobs are looked up at call time (lambdas), so a job replaced on its module is the one run.
async def _nothing() -> int:
    return 0


STAGES = (
    Stage(
        "expired",
        lambda ctx: orders.expire_unpaid_orders(ctx),
        _expiry_batch_full,
        wakes=("releases_finished",),
    ),
    Stage("releases_finished", lambda ctx: orders.finish_interrupted_releases(ctx)),
    Stage("stock_reloaded", lambda ctx: inventory.reload_if_lost(ctx) if ctx.stock else _nothing()),
    Stage("doubts_settled", lambda ctx: ctx.stock.settle_doubts() if ctx.stock else _nothing()),
    Stage("orphans_settled", lambda ctx: inventory.settle_orphans(ctx) if ctx.stock else _nothing()),
    Stage(
        "payments_rechecked",
        lambda ctx: payments.recheck_pending_payments(ctx),
        wakes=("declared", "refunds_sent"),
    ),
    Stage("refunds_sent", lambda ctx: refunds.retry_refunds(ctx), wakes=("declarations_withdrawn",)),
    Stage("declared", lambda ctx: declaring.declare_pending(ctx), wakes=("receipts_applied",)),
    Stage(
        "receipts_applied",
        lambda ctx: receipts.poll_receipts(ctx),
        _full(receipts.PAGE),
        wakes=("shipped", "declarations_refunded"),
    ),
    Stage("shipped", lambda ctx: fulfilment.ship_released(ctx), _full(fulfilment.SHIP_BATCH)),
    Stage(
        "declarations_refunded",
        lambda ctx: fulfilment.refund_unfixed(ctx),
        _full(fulfilment.REFUND_BATCH),
        wakes=("refunds_sent", "declarations_withdrawn"),
    ),
    Stage("declarations_withdrawn", lambda ctx: withdrawal.withdraw_refunded(ctx), _full(withdrawal.BATCH)),
    Stage("returns_declared", lambda ctx: returns.declare_approved(ctx), _full(returns.BATCH)),
    Stage(
        "cancellations_declared",
        lambda ctx: withdrawals.declare_requested(ctx),
        _full(withdrawals.BATCH),
    ),
    Stage("flagged_for_attention", lambda ctx: worklist.flag_stuck(ctx), _full(worklist.BATCH)),
    Stage(
        "partner_events",
        lambda ctx: partner_jobs.relay_events(ctx),
        poll_seconds=_partner_poll,
        wakes=("partner_events_published", "webhooks_queued"),
    ),
    Stage(
        "partner_events_published",
        lambda ctx: partner_jobs.publish_events(ctx),
        _full(partner_stream.PASS_LIMIT),
        poll_seconds=_partner_poll,
        wakes=("webhooks_queued",),
    ),
    Stage(
        "webhooks_queued",
        lambda ctx: partner_jobs.queue_deliveries(ctx),
        poll_seconds=_partner_poll,
        wakes=("webhooks_sent",),
    ),
    Stage("webhooks_sent", lambda ctx: partner_jobs.send_deliveries(ctx), poll_seconds=_partner_poll),
    # Buyer notifications (services/notify): the outbox's records, then what time makes due, then sending.
    Stage(
        "notifications_queued",
        lambda ctx: notify_queue.queue_from_outbox(ctx),
        _full(notify_queue.BATCH),
        wakes=("notifications_sent",),
    ),
    Stage(
        "reminders_queued",
        lambda ctx: notify_queue.queue_due(ctx),
        _full(notify_queue.BATCH),
        wakes=("notifications_sent",),
    ),
    Stage("notifications_sent", lambda ctx: notify_send.send_due(ctx), _full(notify_send.BATCH)),
)
# Stages whose partner being down must not stop a single pass of run_once.
_GUARDED_IN_PASS = {"receipts_applied", "shipped"}
# Named groups of stages, for ``flashport worker --only/--skip``: the partner relay (outbox to feeds,
# then webhooks) can run as a process of its own, killed and restarted apart from the rest.
GROUPS = {"relay": ("partner_events", "partner_events_published", "webhooks_queued", "webhooks_sent")}


class UnknownStage(ValueError):
    """A name given to ``--only`` or ``--skip`` that is neither a stage nor a group."""


def _names(given: tuple[str, ...]) -> set[str]:
    known = {stage.name for stage in STAGES}
    names: set[str] = set()
    for name in given:
        if name not in known and name not in GROUPS:
            choices = ", ".join(sorted(GROUPS)) + "; " + ", ".join(sorted(known))
            raise UnknownStage(f"no stage or group named {name!r} (groups: {choices})")
        names.update(GROUPS.get(name, (name,)))
    return names


def select_stages(only: tuple[str, ...] = (), skip: tuple[str, ...] = ()) -> tuple[Stage, ...]:
    """The stages a process runs: every one, or only those named (stage or group names), minus those
    skipped. Every stage is safe in several processes at once, so an overlap only wastes polls; a stage
    no process runs is the operator's choice."""
    keep, drop = _names(only), _names(skip)
    return tuple(s for s in STAGES if (not only or s.name in keep) and s.name not in drop)


async def run_once(ctx: Context) -> dict[str, int]:
    """One pass of every job, in order; returns what each did."""
    done: dict[str, int] = {}
    for stage in STAGES:
        try:
            done[stage.name] = await stage.job(ctx)
        except PARTNER_FAILURES as exc:
            if stage.name not in _GUARDED_IN_PASS:
                raise
            log.warning("%s skipped this pass: %s", stage.name, exc)
            done[stage.name] = 0
    return done


async def run_stage(
    ctx: Context,
    stage: Stage,
    stop: asyncio.Event,
    gate: asyncio.Lock | None = None,
    wakeups: Wakeups | None = None,
) -> None:
    """Run one stage until ``stop`` is set. ``gate`` serialises the stages of a process (SQLite has one
    writer: stages interleaving their transactions would only make each other wait or fail);
    ``wakeups``: how it is woken by, and wakes, the other stages of its process."""
    wakeups = wakeups or Wakeups([stage.name])
    interval = ctx.settings.worker_poll_seconds
    if stage.poll_seconds is not None:
        interval = stage.poll_seconds(ctx.settings)
    failures = idle_polls = 0
    while not stop.is_set():
        started = time.perf_counter()
        try:
            async with gate if gate is not None else contextlib.nullcontext():
                done = await stage.job(ctx)
        except PARTNER_FAILURES as exc:
            metrics.observe_stage_failure(stage.name)
            failures += 1
            delay = min(interval * 2**failures, MAX_BACKOFF_SECONDS)
            log.warning("%s: partner failing (%s); backing off %.1f s", stage.name, exc, delay)
            await _sleep_or_stop(stop, delay)
            continue
        except Exception:
            metrics.observe_stage_failure(stage.name)
            # A database hiccup must not kill the worker: log, wait a little, try again.
            log.exception("%s failed; retrying in %.1f s", stage.name, interval * 5)
            await _sleep_or_stop(stop, interval * 5)
            continue
        failures = 0
        metrics.observe_stage(stage.name, done, time.perf_counter() - started)
        idle_polls = 0 if done else idle_polls + 1
        if done:
            log.info("%s: %d", stage.name, done)
            wakeups.wake((*stage.wakes, *OUTBOX_READERS))
        if not stage.again_at_once(done):
            wait = idle_wait(interval, idle_polls, ctx.settings.worker_idle_backoff)
            await wakeups.wait(stage.name, stop, wait)


def wake_listener_for(ctx: Context, wakeups: Wakeups) -> WakeListener:
    """The process's listener for work other processes commit (PostgreSQL): a notified stage wakes with
    the outbox readers, as a stage's own work wakes them (every change writes its outbox record); after
    each (re)connection every stage wakes, for what may have been notified meanwhile."""
    every = [stage.name for stage in STAGES]
    return WakeListener(
        connector(ctx.engine),
        lambda name: wakeups.wake((name, *OUTBOX_READERS)),
        lambda: wakeups.wake(every),
    )


async def run_forever(ctx: Context, stop: asyncio.Event, stages: tuple[Stage, ...] = STAGES) -> None:
    """Every stage (of ``stages``) in its own loop until ``stop`` is set; returns once each has finished
    its batch. On PostgreSQL a :class:`WakeListener` wakes the stages other processes give work to; on
    SQLite (one process writes) the stages wake one another alone."""
    gate = asyncio.Lock() if ctx.settings.is_sqlite else None
    wakeups = Wakeups(stage.name for stage in STAGES)
    tasks = [
        asyncio.create_task(run_stage(ctx, stage, stop, gate, wakeups), name=f"stage:{stage.name}")
        for stage in stages
    ]
    listening = None
    if not ctx.settings.is_sqlite:
        listening = asyncio.create_task(wake_listener_for(ctx, wakeups).run(stop), name="wake-listener")
    try:
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:  # only left running if gather itself was cancelled
            task.cancel()
        if listening is not None:  # stop is set, or we are cancelled: either way it ends now
            listening.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listening


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)


async def main(settings: Settings, stages: tuple[Stage, ...] = STAGES) -> None:
    metrics.configure(settings.metrics)
    ctx = await build_context(settings, listen_for_restock=False)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    task_dump.install(loop)
    log.info(
        "worker started (stock engine: %s, %d stages, every %.1f s)",
        ctx.stock.name if ctx.stock else "-",
        len(stages),
        settings.worker_poll_seconds,
    )
    try:
        await run_forever(ctx, stop, stages)
    finally:
        metrics.flush()  # the last half second's stage figures
        await close_context(ctx)
        log.info("worker stopped")
