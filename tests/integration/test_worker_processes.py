"""Rule 5 with real ``flashport worker`` processes: unpaid orders expire after their deadline and their
units come back exactly once, with two workers sweeping at once, one of them killed with SIGKILL in the
middle, and across a restart. The test only starts processes and reads the database and the stock
engine; how a worker sweeps (batches, locks, releases) is its own business."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from flashport.adapters.db.schema import orders, outbox
from flashport.services.context import Context, utc_now
from flashport.services.sales import buying
from flashport.services.sales.reconcile import reconcile
from tests.sale_builder import Sale, make_buyers, make_sale
from tests.servers import free_port
from tests.waiting import eventually

pytestmark = pytest.mark.slow  # real worker processes sweeping thousands of orders

PAYMENT_WINDOW_SECONDS = 2
POLL_SECONDS = 0.2
DONE_WITHIN = 60.0  # seconds for the workers to expire and release everything (it takes a few)


def _short_window(ctx: Context) -> None:
    """This (buying) process gives orders the same short payment window as the workers are told."""
    ctx.settings = ctx.settings.model_copy(update={"payment_window_seconds": PAYMENT_WINDOW_SECONDS})


def _worker_env(ctx: Context) -> dict[str, str]:
    """The environment of a ``flashport worker`` on the test's database and stock engine, nothing else."""
    s = ctx.settings
    env = {key: value for key, value in os.environ.items() if not key.startswith("FLASHPORT_")}
    env |= {
        "FLASHPORT_ENV": "test",
        "FLASHPORT_DATA_DIR": str(s.data_dir),
        "FLASHPORT_PAYMENT_WINDOW_SECONDS": str(PAYMENT_WINDOW_SECONDS),
        "FLASHPORT_WORKER_POLL_SECONDS": str(POLL_SECONDS),
        # No single window here: its inbox poll fails fast on a closed port and is skipped each pass.
        "FLASHPORT_CUSTOMS_URL": f"http://127.0.0.1:{free_port()}/sandbox/customs",
        "FLASHPORT_LOG_LEVEL": "info",  # "worker started" says it is up; each pass says what it did
    }
    if s.database_url:
        env["FLASHPORT_DATABASE_URL"] = s.database_url
    if s.partner_bus == "nats":
        env |= {
            "FLASHPORT_PARTNER_BUS": "nats",
            "FLASHPORT_NATS_URL": s.nats_url,
            "FLASHPORT_NATS_STREAM": s.nats_stream,
            "FLASHPORT_NATS_SUBJECT_PREFIX": s.nats_subject_prefix,
            "FLASHPORT_NATS_CONSUMER": s.nats_consumer,
            "FLASHPORT_NATS_ACK_WAIT_SECONDS": str(s.nats_ack_wait_seconds),
        }
    if s.redis_url:
        env["FLASHPORT_REDIS_URL"] = s.redis_url
        env["FLASHPORT_REDIS_PREFIX"] = s.redis_prefix
    return env


class Workers:
    """``flashport worker`` OS processes, each logging to a file of its own; all gone on exit."""

    def __init__(self, env: dict[str, str], log_dir: Path) -> None:
        self.env = env
        self.log_dir = log_dir
        self.started: list[asyncio.subprocess.Process] = []
        self._logs: dict[asyncio.subprocess.Process, Path] = {}
        self._count = 0

    def _log(self, proc: asyncio.subprocess.Process) -> Path:
        return self._logs[proc]

    async def start(self) -> asyncio.subprocess.Process:
        log = self.log_dir / f"worker-{self._count}.log"
        self._count += 1
        with log.open("wb") as out:  # the child keeps its own copy of the descriptor
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "flashport", "worker", env=self.env, stdout=out, stderr=out
            )
        self.started.append(proc)
        self._logs[proc] = log
        return proc

    async def ready(self, proc: asyncio.subprocess.Process, within: float = 120.0) -> None:
        """Wait until the process has said it started (its SIGTERM handler is installed by then)."""
        deadline = time.monotonic() + within
        while "worker started" not in self._log(proc).read_text(errors="replace"):
            assert proc.returncode is None, "a worker died during start-up:\n" + self.logs()
            assert time.monotonic() < deadline, f"a worker did not start within {within} s:\n" + self.logs()
            await asyncio.sleep(0.05)

    async def stop(self, proc: asyncio.subprocess.Process) -> int:
        """SIGTERM once it is up, and the exit code of the clean stop that must follow."""
        await self.ready(proc)
        proc.send_signal(signal.SIGTERM)
        return await asyncio.wait_for(proc.wait(), 20)

    def logs(self) -> str:
        """The end of each worker's log, without the skipped customs polls (no single window here)."""
        parts = []
        for proc in self.started:
            lines = self._log(proc).read_text(errors="replace").splitlines()
            kept = [line for line in lines if "customs receipts skipped" not in line]
            parts.append(f"--- {self._log(proc).stem} (exit {proc.returncode}):")
            parts.extend(kept[-40:])
        return "\n".join(parts)


@contextlib.asynccontextmanager
async def worker_processes(ctx: Context, log_dir: Path) -> AsyncIterator[Workers]:
    workers = Workers(_worker_env(ctx), log_dir)
    try:
        yield workers
    finally:
        for proc in workers.started:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()


async def _place_orders_at_one_instant(
    ctx: Context, sale: Sale, buyers: list[tuple[int, str]], tag: str, at: datetime | None = None
) -> datetime:
    """One order of one unit per buyer, all placed at the same instant of the buying context's clock
    (a rush, now or ``at``), so they all come due together; returns their payment deadline."""
    instant = at or utc_now()
    original: Callable[[], datetime] = ctx.clock
    ctx.clock = lambda: instant
    try:
        placed = await asyncio.gather(
            *(buying.buy(ctx, buyer, sale.item_id, 1, f"{tag}-{n}") for n, (buyer, _) in enumerate(buyers))
        )
    finally:
        ctx.clock = original
    assert all(purchase.order["status"] == "pending_payment" for purchase in placed)
    return instant + timedelta(seconds=PAYMENT_WINDOW_SECONDS)


async def _first_expiry_seen(ctx: Context, workers: Workers, within: float = 120.0) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        async with ctx.read() as conn:
            found = await conn.scalar(sa.select(outbox.c.id).where(outbox.c.type == "order.expired").limit(1))
        if found is not None:
            return
        assert all(p.returncode is None for p in workers.started), "a worker died:\n" + workers.logs()
        await asyncio.sleep(0.005)
    raise AssertionError(f"no order expired within {within} s:\n{workers.logs()}")


async def _unfinished(ctx: Context) -> dict[str, int]:
    """Orders still pending, and closed orders whose units have not been returned yet."""
    async with ctx.read() as conn:
        pending = await conn.scalar(
            sa.select(sa.func.count()).select_from(orders).where(orders.c.status == "pending_payment")
        )
        unreleased = await conn.scalar(
            sa.select(sa.func.count())
            .select_from(orders)
            .where(orders.c.status != "pending_payment", orders.c.stock_released_at.is_(None))
        )
    return {"pending": int(pending or 0), "unreleased": int(unreleased or 0)}


async def _all_expired_and_released(ctx: Context, workers: Workers) -> float:
    """Wait (bounded) until no order is pending and every closed one has its units back; returns how
    long that took."""
    began = time.monotonic()
    left: dict[str, int] = {}
    while time.monotonic() - began < DONE_WITHIN:
        left = await _unfinished(ctx)
        if not any(left.values()):
            return time.monotonic() - began
        assert any(p.returncode is None for p in workers.started), "no worker left:\n" + workers.logs()
        await asyncio.sleep(0.05)
    raise AssertionError(f"still {left} after {DONE_WITHIN} s:\n{workers.logs()}")


async def _assert_every_order_expired_once_and_every_unit_back(ctx: Context, sale: Sale, count: int) -> None:
    async with ctx.read() as conn:
        statuses: dict[Any, Any] = dict(
            (await conn.execute(sa.select(orders.c.status, sa.func.count()).group_by(orders.c.status))).all()
        )
        order_subjects = {f"order:{no}" for no in (await conn.scalars(sa.select(orders.c.order_no))).all()}
        events: dict[Any, Any] = dict(
            (
                await conn.execute(
                    sa.select(outbox.c.subject, sa.func.count())
                    .where(outbox.c.type == "order.expired")
                    .group_by(outbox.c.subject)
                )
            ).all()
        )
    assert statuses == {"expired": count}
    assert set(events) == order_subjects  # every order has its event, and no event names another order
    twice = {subject: n for subject, n in events.items() if n != 1}
    assert not twice, f"{len(twice)} orders expired more than once, e.g. {list(twice.items())[:5]}"
    stock = ctx.stock
    assert stock is not None
    assert await stock.remaining([sale.item_id]) == {sale.item_id: sale.quantity}
    counters = await stock.read_counters(sale.item_id)
    assert counters is not None
    assert counters.taken == 0
    assert not counters.per_buyer, f"buyers still holding units: {dict(counters.per_buyer)}"
    [report] = await reconcile(ctx)  # the engine agrees with the database: nothing to repair
    assert report.item_id == sale.item_id
    assert (report.truth_taken, report.engine_taken, report.buyer_differences) == (0, 0, {})
    assert report.agrees


async def _sale_with_a_short_window(ctx: Context, units: int) -> tuple[Sale, list[tuple[int, str]]]:
    """A sale of ``units`` (limit 1) and as many buyers, bought from with the workers' short window."""
    _short_window(ctx)
    return await make_sale(ctx, quantity=units, limit=1), await make_buyers(ctx, units)


async def test_two_worker_processes_expire_every_due_order_once_even_when_one_is_killed_and_replaced(
    buy_ctx: Context, tmp_path: Path
) -> None:
    units = 2000
    sale, buyers = await _sale_with_a_short_window(buy_ctx, units)
    await _place_orders_at_one_instant(buy_ctx, sale, buyers, "rush")
    assert buy_ctx.stock is not None
    assert await buy_ctx.stock.remaining([sale.item_id]) == {sale.item_id: 0}  # sold out, all unpaid

    async with worker_processes(buy_ctx, tmp_path) as workers:
        first, second = await asyncio.gather(workers.start(), workers.start())
        await _first_expiry_seen(buy_ctx, workers)
        first.send_signal(signal.SIGKILL)  # in the middle of the sweep: no chance to finish anything
        assert await asyncio.wait_for(first.wait(), 10) == -signal.SIGKILL
        at_kill = await _unfinished(buy_ctx)
        replacement = await workers.start()
        await workers.ready(replacement)
        took = await _all_expired_and_released(buy_ctx, workers)
        assert second.returncode is None and replacement.returncode is None, workers.logs()
        assert await workers.stop(second) == 0, workers.logs()
        assert await workers.stop(replacement) == 0, workers.logs()
    print(f"\n[{buy_ctx.stock.name}] left when one worker was killed: {at_kill}; the rest took {took:.1f} s")

    await _assert_every_order_expired_once_and_every_unit_back(buy_ctx, sale, units)


async def test_a_restarted_worker_process_expires_the_orders_that_came_due_while_none_was_running(
    buy_ctx: Context, tmp_path: Path
) -> None:
    units = 300
    sale, buyers = await _sale_with_a_short_window(buy_ctx, units)
    path = buy_ctx.buy_path
    assert path is not None and buy_ctx.stock is not None

    async with worker_processes(buy_ctx, tmp_path) as workers:
        before = await workers.start()
        await _place_orders_at_one_instant(buy_ctx, sale, buyers, "first")
        await _all_expired_and_released(buy_ctx, workers)
        assert await workers.stop(before) == 0, workers.logs()

        # The same buyers buy again (limit 1: only possible because their first units came back).
        # The sold-out flag of this process clears by restock news or its TTL.
        async def back_on_sale() -> bool:
            return not path.board.is_sold_out(sale.item_id)

        await eventually(back_on_sale, what="the sold-out flag to clear")
        # Placed a payment window ago (the buying clock set back), so they are due at once, no waiting.
        placed_at = utc_now() - timedelta(seconds=PAYMENT_WINDOW_SECONDS + 1)
        await _place_orders_at_one_instant(buy_ctx, sale, buyers, "second", at=placed_at)
        assert await _unfinished(buy_ctx) == {"pending": units, "unreleased": 0}  # due, but no worker runs

        after = await workers.start()
        await _all_expired_and_released(buy_ctx, workers)
        assert await workers.stop(after) == 0, workers.logs()

    await _assert_every_order_expired_once_and_every_unit_back(buy_ctx, sale, 2 * units)
