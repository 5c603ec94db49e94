"""``flashport bench-pipeline``: the back office at work, every party in its own process.

1. The single-window simulator, the sandbox payment company and carrier, and the platform API start as
   real ``flashport`` commands on loopback ports, the platform on the configured PostgreSQL and Redis,
   every partner URL pointing at the run's own partners.
2. A sale of N units (bench/setup.py) is bought out over HTTP by N buyers with real tokens (the record
   bench's load generator). Each buyer then adds a real-name identity, checks out, starts the payment,
   opens the provider's hosted page and pays as themselves; the provider notifies the platform with its
   real signed notifications.
3. W ``flashport worker`` processes start once every order is paid (a backlog, as after a rush; with
   ``live`` they start before the first payment) and the bench watches the database until every order
   is shipped, rejected or refunded, or the timeout passes.
4. The outbox gives when each order reached each stage; ``/proc`` gives each process's CPU; the audit
   (pipeline_audit.py) checks each order went through exactly once.

Every child is stopped when the run ends, however it ends.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from flashport.adapters.customs.signer_file import load_or_create_signer
from flashport.bench import pipeline_db as db
from flashport.bench.pipeline_audit import AuditCheck, audit
from flashport.bench.pipeline_buyers import BoughtOut, buy_out, check_out_and_pay_all
from flashport.bench.pipeline_carrier import carrier_check
from flashport.bench.pipeline_procs import Children, Ports, backends_cpu, child_env
from flashport.bench.pipeline_report import PipelineFigures, ProcessCpu, cpu_per_order, figures, stage_series
from flashport.bench.setup import new_run_id
from flashport.bootstrap import build_context, close_context
from flashport.domain.partners import PartnerKind
from flashport.sandbox_logistics import LogisticsSimSettings
from flashport.sandbox_pay.keys import ensure_keys
from flashport.services.context import Context
from flashport.services.partners import enrolment
from flashport.settings import Settings

POLL_SECONDS = 0.5  # the stage times come from the outbox; this only notices the end
PROGRESS_EVERY_S = 5.0  # when stderr is not a terminal
FINISHED = ("shipped", "rejected", "refunded")  # where a declaration stops moving within a run


class PipelineFailed(RuntimeError):
    """The run could not get its orders paid (a refusal, a dead child, a timeout before the workers)."""


@dataclass(frozen=True)
class Options:
    orders: int
    workers: int = 1
    timeout_s: float = 900.0
    live: bool = False
    concurrency: int = 32  # buyers checking out and paying at once


@dataclass
class PipelineRun:
    run_id: str
    options: Options
    run_dir: Path
    stock_engine: str  # "redis" or "sql": what the platform's buy path ran on
    figures: PipelineFigures
    checks: list[AuditCheck]
    cpu: dict[str, list[ProcessCpu]]  # by phase: checkout and payment, back office, whole run
    series: dict[str, list[tuple[float, int]]]
    seconds: dict[str, float] = field(default_factory=dict)
    timed_out: bool = False
    stuck: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.timed_out and all(c.passed for c in self.checks)


Say = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


def run(
    settings: Settings, options: Options, *, say: Say = _quiet, run_dir: Path | None = None
) -> PipelineRun:
    """The whole run. The run's folder (keys, partners' records, every child's log) is ``run_dir`` or a
    new temporary one; it is left in place for the reader."""
    run_dir = run_dir or Path(tempfile.mkdtemp(prefix="flashport-pipeline-"))
    ports = Ports.free()
    # Made once here, before any child starts: the API, the provider and each worker would otherwise
    # race to create the same key files.
    ensure_keys(run_dir)
    load_or_create_signer(run_dir / "customs" / "signing-key.pem", settings.customs_platform_name)
    carrier_key = asyncio.run(_enrol_carrier(settings))
    children = Children(child_env(settings, run_dir, ports, carrier_key), run_dir)
    try:
        started = time.perf_counter()
        _start_partners_and_api(children, ports, say)
        seconds = {"start partners and API": time.perf_counter() - started}
        local = settings.model_copy(update={"data_dir": run_dir})
        return asyncio.run(_drive(local, _Bench(options, children, ports, seconds, say)))
    except KeyboardInterrupt:
        say(f"interrupted; the children's logs are in {run_dir}")
        raise
    except BaseException:
        say(f"the run failed; the children's logs are in {run_dir}, ending:\n{children.tails()}")
        raise
    finally:
        children.stop_all()


async def _enrol_carrier(settings: Settings) -> str:
    """The sandbox carrier as a partner of the platform, with a key to follow its feed."""
    carrier = LogisticsSimSettings()
    ctx = await build_context(settings, listen_for_restock=False)
    try:
        _, key = await enrolment.enrol(
            ctx, name=carrier.customs_name, kind=PartnerKind.CARRIER, logistics_code=carrier.customs_code
        )
    finally:
        await close_context(ctx)
    return key


def _start_partners_and_api(children: Children, ports: Ports, say: Say) -> None:
    say("starting the single window, the provider, the carrier and the API ...")
    customs = children.start("customs-sim", "customs-sim", "--port", str(ports.customs))
    pay = children.start("sandbox-pay", "sandbox-pay", "--port", str(ports.pay))
    carrier = children.start("sandbox-logistics", "sandbox-logistics", "--port", str(ports.carrier))
    api = children.start("api", "serve", "--port", str(ports.platform), "--workers", "1")
    children.wait_http(customs, f"{ports.url('customs')}/")
    children.wait_http(pay, f"{ports.url('pay')}/")
    children.wait_http(carrier, f"{ports.url('carrier')}/")
    children.wait_http(api, f"{ports.url('platform')}/livez")


@dataclass
class _Bench:
    """What the run's steps share: the options, the children, their ports, the phase times."""

    options: Options
    children: Children
    ports: Ports
    seconds: dict[str, float]
    say: Say

    def start_workers(self) -> datetime:
        self.say(f"starting {self.options.workers} worker(s) ...")
        started = datetime.now(UTC)
        for n in range(self.options.workers):
            self.children.start(f"worker-{n + 1}", "worker")
        return started

    async def cpu(self, ctx: Context) -> dict[str, float]:
        """CPU seconds so far of every child and of every PostgreSQL backend of the run's database."""
        return self.children.cpu() | backends_cpu(await db.database_backends(ctx))


async def _drive(settings: Settings, bench: _Bench) -> PipelineRun:
    ctx = await build_context(settings, listen_for_restock=False)
    try:
        return await _drive_with(ctx, bench)
    finally:
        await close_context(ctx)


async def _drive_with(ctx: Context, bench: _Bench) -> PipelineRun:
    options, run_id = bench.options, new_run_id()
    mark = await db.outbox_mark(ctx)
    bench.say(f"buying {options.orders:,} units over HTTP ...")
    sale = await buy_out(ctx, options.orders, bench.ports.url("platform"), run_id, bench.seconds)
    workers_started = bench.start_workers() if options.live else None
    before = await bench.cpu(ctx)
    await _pay(ctx, bench, sale)
    paid = await bench.cpu(ctx)
    workers_started = workers_started or bench.start_workers()
    timed_out = await _until_finished(ctx, bench, sale.item_id, workers_started)
    after = await bench.cpu(ctx)
    facts = await db.order_facts(ctx, sale.item_id, mark)
    carrier = await carrier_check(
        bench.children.run_dir / "sandbox-logistics" / "waybills.sqlite3", [f.order_no for f in facts]
    )
    events = await db.stage_events(ctx, sale.item_id, mark)
    mode = "live" if options.live else "backlog"
    run = figures(
        events, orders=options.orders, workers=options.workers, mode=mode, workers_started=workers_started
    )
    cpu = {
        "checkout and payment": cpu_per_order(before, paid, options.orders),
        "back office": cpu_per_order(paid, after, options.orders),
        "whole run": cpu_per_order(before, after, options.orders),
    }
    return PipelineRun(
        run_id=run_id,
        options=options,
        run_dir=bench.children.run_dir,
        stock_engine=ctx.stock.name if ctx.stock is not None else "sql",
        figures=run,
        checks=[*audit(facts, options.orders), carrier],
        cpu=cpu,
        series=stage_series(events, run.zero),
        seconds=bench.seconds,
        timed_out=timed_out,
        stuck=await db.stuck(ctx, sale.item_id) if timed_out else [],
    )


async def _pay(ctx: Context, bench: _Bench, sale: BoughtOut) -> None:
    """Every buyer checks out and pays; returns once the platform has settled every payment."""
    bench.say(f"checking out and paying {len(sale.buyers):,} orders ...")
    started = time.perf_counter()
    platform, pay = bench.ports.url("platform"), bench.ports.url("pay")
    await check_out_and_pay_all(platform, pay, sale.buyers, concurrency=bench.options.concurrency)
    bench.seconds["check out and pay"] = time.perf_counter() - started
    started = time.perf_counter()
    deadline = time.monotonic() + bench.options.timeout_s
    while (await db.progress(ctx, sale.item_id)).paid < len(sale.buyers):
        bench.children.check_alive()
        if time.monotonic() > deadline:
            raise PipelineFailed(f"payments not all settled within {bench.options.timeout_s:.0f} s")
        await asyncio.sleep(POLL_SECONDS)
    bench.seconds["notifications settled"] = time.perf_counter() - started


async def _until_finished(ctx: Context, bench: _Bench, item_id: int, workers_started: datetime) -> bool:
    """Watch the run's declarations until each is finished; True if the timeout came first. Elapsed
    time counts from the workers' start (wall clock), which may be before the watch began."""
    started = time.perf_counter() - (datetime.now(UTC) - workers_started).total_seconds()
    orders, deadline = bench.options.orders, started + bench.options.timeout_s
    shown = -PROGRESS_EVERY_S
    while True:
        now = await db.progress(ctx, item_id)
        finished = sum(now.reached(state) for state in FINISHED)
        elapsed = time.perf_counter() - started
        done = finished >= orders or time.perf_counter() > deadline
        if done or elapsed - shown >= (POLL_SECONDS if sys.stderr.isatty() else PROGRESS_EVERY_S):
            shown = elapsed
            _show_progress(elapsed, now, done)
        if done:
            bench.seconds["back office"] = elapsed
            return finished < orders
        bench.children.check_alive()
        await asyncio.sleep(POLL_SECONDS)


def _show_progress(elapsed: float, now: db.Progress, last: bool) -> None:
    """One line redrawn on a terminal; a line every few seconds in a log."""
    counts = ", ".join(f"{s} {now.reached(s):,}" for s in ("pending", "declared", "released", "shipped"))
    line = f"  {elapsed:6.1f} s  {counts}"
    if sys.stderr.isatty():
        print(f"\r{line}   ", end="\n" if last else "", file=sys.stderr, flush=True)
    else:
        print(line, file=sys.stderr, flush=True)
