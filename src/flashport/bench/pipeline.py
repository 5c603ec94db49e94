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
from flashport.bench.loadgen import Target, fire, purchase_request
from flashport.bench.pipeline_audit import AuditCheck, audit
from flashport.bench.pipeline_buyers import Buyer, check_out_and_pay_all, real_name
from flashport.bench.pipeline_procs import Children, Ports, backends_cpu, child_env
from flashport.bench.pipeline_report import PipelineFigures, ProcessCpu, cpu_per_order, figures, stage_series
from flashport.bench.setup import mint_tokens, new_run_id, prepare_sale
from flashport.bootstrap import build_context, close_context
from flashport.sandbox_pay.keys import ensure_keys
from flashport.services.context import Context
from flashport.settings import Settings

POLL_SECONDS = 0.25
PROGRESS_EVERY_S = 5.0  # when stderr is not a terminal
FINISHED = ("shipped", "rejected", "refunded")  # where a declaration stops moving within a run
BUY_CONNECTIONS = 64


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
    cpu: dict[str, list[ProcessCpu]]
    series: dict[str, list[tuple[float, int]]]
    seconds: dict[str, float] = field(default_factory=dict)
    timed_out: bool = False
    stuck: list[str] = field(default_factory=list)
    pids: dict[str, int] = field(default_factory=dict)  # every child's process id, by name

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
    children = Children(child_env(settings, run_dir, ports), run_dir)
    try:
        started = time.perf_counter()
        _start_partners_and_api(children, ports, say)
        seconds = {"start partners and API": time.perf_counter() - started}
        local = settings.model_copy(update={"data_dir": run_dir})
        return asyncio.run(_drive(local, options, children, ports, run_dir, seconds, say))
    except KeyboardInterrupt:
        say(f"interrupted; the children's logs are in {run_dir}")
        raise
    except BaseException:
        say(f"the run failed; the children's logs are in {run_dir}, ending:\n{children.tails()}")
        raise
    finally:
        children.stop_all()


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


async def _drive(
    settings: Settings,
    options: Options,
    children: Children,
    ports: Ports,
    run_dir: Path,
    seconds: dict[str, float],
    say: Say,
) -> PipelineRun:
    ctx = await build_context(settings, listen_for_restock=False)
    try:
        return await _drive_with(ctx, options, children, ports, run_dir, seconds, say)
    finally:
        await close_context(ctx)


async def _drive_with(
    ctx: Context,
    options: Options,
    children: Children,
    ports: Ports,
    run_dir: Path,
    seconds: dict[str, float],
    say: Say,
) -> PipelineRun:
    run_id = new_run_id()
    mark = await db.outbox_mark(ctx)
    item_id, buyers = await _buy(ctx, options.orders, ports, run_id, seconds, say)
    workers_started = None
    if options.live:
        workers_started = _start_workers(children, options.workers, say)
    before = await _cpu(ctx, children)
    await _pay(ctx, item_id, buyers, ports, options, children, seconds, say)
    paid = await _cpu(ctx, children)
    if workers_started is None:
        workers_started = _start_workers(children, options.workers, say)
    timed_out = await _until_finished(ctx, item_id, options, children, workers_started, seconds, say)
    after = await _cpu(ctx, children)
    events = await db.stage_events(ctx, item_id, mark)
    run = figures(
        events,
        orders=options.orders,
        workers=options.workers,
        mode="live" if options.live else "backlog",
        workers_started=workers_started,
    )
    cpu = {
        "checkout and payment": cpu_per_order(before, paid, options.orders),
        "back office": cpu_per_order(paid, after, options.orders),
        "whole run": cpu_per_order(before, after, options.orders),
    }
    checks = audit(await db.order_facts(ctx, item_id, mark), options.orders)
    stuck = await db.stuck(ctx, item_id) if timed_out else []
    series = stage_series(events, run.zero)
    engine = ctx.stock.name if ctx.stock is not None else "sql"
    pids = {c.name: c.process.pid for c in children.started}
    return PipelineRun(
        run_id, options, run_dir, engine, run, checks, cpu, series, seconds, timed_out, stuck, pids
    )


async def _cpu(ctx: Context, children: Children) -> dict[str, float]:
    """CPU seconds so far of every child and of every PostgreSQL backend of the run's database."""
    return children.cpu() | backends_cpu(await db.database_backends(ctx))


async def _buy(
    ctx: Context, count: int, ports: Ports, run_id: str, seconds: dict[str, float], say: Say
) -> tuple[int, list[Buyer]]:
    """The sale, bought out over HTTP with the record bench's load generator: one order per buyer."""
    started = time.perf_counter()
    sale = await prepare_sale(ctx, units=count, buyers=count, run_id=run_id)
    tokens = mint_tokens(ctx.settings, sale.buyer_ids, processes=1)
    seconds["sale and tokens"] = time.perf_counter() - started
    say(f"buying {count:,} units over HTTP ...")
    started = time.perf_counter()
    target = Target.from_url(ports.url("platform"))
    requests = [
        purchase_request(target, sale.item_id, token, f"pipe-{run_id}-{n}") for n, token in enumerate(tokens)
    ]
    firing = await asyncio.to_thread(fire, target, requests, connections=min(BUY_CONNECTIONS, count))
    if firing.outcomes.get("201", 0) != count:
        raise PipelineFailed(f"buying {count} units answered {dict(firing.outcomes)}")
    seconds["buy"] = time.perf_counter() - started
    orders = await db.order_numbers(ctx, sale.item_id)
    offset = int(run_id, 16) % 15_000  # other birth dates on every run: each run's buyers are new people
    buyers = [
        Buyer(n, token, orders[buyer_id], real_name(n, offset_days=offset))
        for n, (buyer_id, token) in enumerate(zip(sale.buyer_ids, tokens, strict=True))
    ]
    return sale.item_id, buyers


def _start_workers(children: Children, count: int, say: Say) -> datetime:
    say(f"starting {count} worker(s) ...")
    started = datetime.now(UTC)
    for n in range(count):
        children.start(f"worker-{n + 1}", "worker")
    return started


async def _pay(
    ctx: Context,
    item_id: int,
    buyers: list[Buyer],
    ports: Ports,
    options: Options,
    children: Children,
    seconds: dict[str, float],
    say: Say,
) -> None:
    """Every buyer checks out and pays; returns once the platform has settled every payment."""
    say(f"checking out and paying {len(buyers):,} orders ...")
    started = time.perf_counter()
    await check_out_and_pay_all(
        ports.url("platform"), ports.url("pay"), buyers, concurrency=options.concurrency
    )
    seconds["check out and pay"] = time.perf_counter() - started
    started = time.perf_counter()
    deadline = time.monotonic() + options.timeout_s
    while (await db.progress(ctx, item_id)).paid < len(buyers):
        children.check_alive()
        if time.monotonic() > deadline:
            raise PipelineFailed(f"payments not all settled within {options.timeout_s:.0f} s")
        await asyncio.sleep(POLL_SECONDS)
    seconds["notifications settled"] = time.perf_counter() - started


async def _until_finished(
    ctx: Context,
    item_id: int,
    options: Options,
    children: Children,
    workers_started: datetime,
    seconds: dict[str, float],
    say: Say,
) -> bool:
    """Watch the run's declarations until each is finished; True if the timeout came first."""
    started = time.perf_counter() - (datetime.now(UTC) - workers_started).total_seconds()
    deadline = started + options.timeout_s
    shown = -PROGRESS_EVERY_S
    while True:
        now = await db.progress(ctx, item_id)
        finished = sum(now.reached(state) for state in FINISHED)
        elapsed = time.perf_counter() - started
        done = finished >= options.orders or time.perf_counter() > deadline
        if done or elapsed - shown >= (POLL_SECONDS if sys.stderr.isatty() else PROGRESS_EVERY_S):
            shown = elapsed
            _show_progress(elapsed, now, done)
        if done:
            seconds["back office"] = elapsed
            return finished < options.orders
        children.check_alive()
        await asyncio.sleep(POLL_SECONDS)


def _show_progress(elapsed: float, now: db.Progress, last: bool) -> None:
    """One line redrawn on a terminal; a line every few seconds in a log."""
    counts = ", ".join(f"{s} {now.reached(s):,}" for s in ("pending", "declared", "released", "shipped"))
    line = f"  {elapsed:6.1f} s  {counts}"
    if sys.stderr.isatty():
        print(f"\r{line}   ", end="\n" if last else "", file=sys.stderr, flush=True)
    else:
        print(line, file=sys.stderr, flush=True)
