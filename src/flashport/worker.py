"""``flashport worker``: the background process. Every job here is idempotent and safe to run in
several workers at once (each order is moved by exactly one of them), and its queue is the database
itself, so a restart loses nothing."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Coroutine
from typing import Any

from flashport.adapters.customs.gateway import CustomsUnavailable
from flashport.bootstrap import build_context, close_context
from flashport.services.context import Context
from flashport.services.customs import declaring, fulfilment, receipts, withdrawal
from flashport.services.orders import lifecycle as orders
from flashport.services.partners import jobs as partner_jobs
from flashport.services.payments import refunds
from flashport.services.payments import settlement as payments
from flashport.settings import Settings

log = logging.getLogger("flashport.worker")


async def run_once(ctx: Context) -> dict[str, int]:
    """One pass of every job; returns what each did."""
    return {
        "expired": await orders.expire_unpaid_orders(ctx),
        "releases_finished": await orders.finish_interrupted_releases(ctx),
        "payments_rechecked": await payments.recheck_pending_payments(ctx),
        "refunds_sent": await refunds.retry_refunds(ctx),
        "declared": await declaring.declare_pending(ctx),
        "receipts_applied": await _guarded(receipts.poll_receipts(ctx), "customs receipts"),
        "shipped": await fulfilment.ship_released(ctx),
        "declarations_refunded": await fulfilment.refund_unfixed(ctx),
        "declarations_withdrawn": await withdrawal.withdraw_refunded(ctx),
        "partner_events": await partner_jobs.run(ctx),
    }


async def _guarded(job: Coroutine[Any, Any, int], what: str) -> int:
    """A partner being down must not stop the worker's other jobs: log and report nothing done."""
    try:
        return await job
    except CustomsUnavailable as exc:
        log.warning("%s skipped this pass: %s", what, exc)
        return 0


async def run_forever(ctx: Context, stop: asyncio.Event) -> None:
    interval = ctx.settings.worker_poll_seconds
    while not stop.is_set():
        try:
            done = await run_once(ctx)
            if any(done.values()):
                log.info("worker pass: %s", done)
        except Exception:
            # A database hiccup must not kill the worker: log, back off, try again.
            log.exception("worker pass failed; retrying in %.0f s", interval * 5)
            await _sleep_or_stop(stop, interval * 5)
            continue
        if done["expired"] >= orders.EXPIRY_PASS_LIMIT:
            continue  # the pass stopped at its budget with more due: a window just closed on a rush
        await _sleep_or_stop(stop, interval)


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)


async def main(settings: Settings) -> None:
    ctx = await build_context(settings, listen_for_restock=False)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    log.info(
        "worker started (stock engine: %s, every %.1f s)",
        ctx.stock.name if ctx.stock else "-",
        settings.worker_poll_seconds,
    )
    try:
        await run_forever(ctx, stop)
    finally:
        await close_context(ctx)
        log.info("worker stopped")
