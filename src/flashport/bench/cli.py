"""``flashport bench`` and ``flashport loadcheck`` (registered by flashport.cli).

The bench reads the same FLASHPORT_* settings as the server it targets: it writes the sale into that
server's database and signs tokens with that server's secret key.
"""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from flashport.bench import cpu_parts, report
from flashport.bench.board_screens import BoardScreens, ScreensReport
from flashport.bench.chart import sold_over_time_svg, timelines
from flashport.bench.cpu import CpuWatch, parse_watched
from flashport.bench.loadgen import (
    Firing,
    GeneratorError,
    RoomBuyers,
    Target,
    fire,
    probe_request,
    purchase_request,
)
from flashport.bench.setup import PreparedSale, insert_buyers, mint_tokens, new_run_id, prepare_sale
from flashport.bootstrap import build_context, close_context
from flashport.domain.accounts import Principal, Role
from flashport.domain.sales import MAX_ITEM_QUANTITY
from flashport.services.accounts.tokens import issue_token
from flashport.services.context import utc_now
from flashport.services.waiting_room import rooms
from flashport.settings import Settings, load_settings

UNITS_DEFAULT = 600_000
RUSH_UNITS_DEFAULT = 1_000
RECORD_ADMIT_RATE = 100_000.0  # the record's admission: far above what the buy path sells a second

url_option = click.option(
    "--url", default="http://127.0.0.1:8000", show_default=True, help="The running server, plain http."
)
connections_option = click.option(
    "--connections", default=256, show_default=True, type=click.IntRange(1, 20_000), help="In total."
)
processes_option = click.option(
    "--processes",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Load generator processes. The default leaves the second core to the server, PostgreSQL and Redis.",
)


@click.command("bench")
@url_option
@click.option("--units", default=UNITS_DEFAULT, show_default=True, type=click.IntRange(1, MAX_ITEM_QUANTITY))
@click.option("--buyers", type=click.IntRange(1), help="Buyers, one attempt each. [default: 1.2 x units]")
@connections_option
@processes_option
@click.option("--out", default=Path("bench-results"), show_default=True, type=click.Path(path_type=Path))
@click.option(
    "--generator-check",
    default=50_000,
    show_default=True,
    type=click.IntRange(0),
    help="GET /livez requests fired first to measure the generator alone; 0 skips.",
)
@click.option(
    "--board-screens",
    default=0,
    show_default=True,
    type=click.IntRange(0, 100),
    help="Operators' screens polling the live sale board once a second during the rush.",
)
@click.option(
    "--rush",
    type=click.IntRange(2, 1000),
    help="A rush through the waiting room: this many buyers per unit (docs/waiting-room.md). "
    "UNITS defaults to 1,000 then.",
)
@click.option(
    "--admit-rate",
    type=click.FloatRange(min=0, min_open=True),
    help="Buyers admitted a second. With --rush default: the room's automatic rate; for the record "
    f"default: {RECORD_ADMIT_RATE:,.0f} (the room's cost is measured, not a throttle).",
)
@click.option(
    "--room/--no-room",
    default=True,
    show_default=True,
    help="The record sale through a waiting room: each buyer joins, is admitted, buys with its token. "
    "Give the server FLASHPORT_FORWARDED_ALLOW_IPS=127.0.0.1 so each simulated buyer has an address of "
    "its own (else the bot friction challenges them all).",
)
@click.option(
    "--replay",
    is_flag=True,
    help="Then send every purchase that bought again, with its Idempotency-Key, as clients retry after "
    "a timeout, and report how fast the retries are answered (each must be its first answer: 201).",
)
@click.option(
    "--cpu-of",
    "cpu_of",
    multiple=True,
    metavar="NAME=PID",
    help="The processes whose CPU (with their children's) is reported per order: api=PID, "
    "postgres=PID (the postmaster), redis=PID... Repeat a name to add processes to it. Default: the "
    "API, worker, PostgreSQL, Redis and NATS processes found on this machine, and the generator.",
)
def bench(
    url: str,
    units: int,
    buyers: int | None,
    connections: int,
    processes: int,
    out: Path,
    generator_check: int,
    board_screens: int,
    rush: int | None,
    admit_rate: float | None,
    room: bool,
    replay: bool,
    cpu_of: tuple[str, ...],
) -> None:
    """Sell UNITS units (limit 1 per buyer) to BUYERS buyers over HTTP, then prove nothing was oversold.

    Exits 1 when a rule broke (oversold, orders missing); a missed speed target is reported, not fatal.
    """
    target = _target(url)
    settings = load_settings()
    try:
        cpu = CpuWatch(parse_watched(cpu_of) if cpu_of else cpu_parts.discover())
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--cpu-of") from None
    if rush is not None:
        _rush(
            settings,
            url,
            units if units != UNITS_DEFAULT else RUSH_UNITS_DEFAULT,
            rush,
            admit_rate,
            connections,
        )
        return
    buyers = buyers or -(-units * 6 // 5)  # 20% more buyers than units, so the last units are contested
    if settings.is_sqlite:
        click.secho("note: FLASHPORT_DATABASE_URL is not set; this benchmarks embedded SQLite", fg="yellow")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    generator = _check_generator(target, generator_check, connections, processes) if generator_check else None
    sale, requests, tokens = _prepare(settings, target, units, buyers)
    volley: list[bytes] | RoomBuyers = requests
    if room:
        rate = admit_rate or RECORD_ADMIT_RATE
        asyncio.run(_with_context(settings, _mark_hot, sale, rate))
        click.echo(f"through the waiting room, admitting {rate:,.0f} buyers a second", err=True)
        volley = RoomBuyers(target, sale.item_id, sale.run_id, tokens, range(len(tokens)))
    screens = BoardScreens(target, _operator_token(settings, sale.run_id), board_screens)
    screens.start()
    wal_before = asyncio.run(_with_context(settings, report.wal_position))
    cpu.start()
    try:
        firing = _fire(target, volley, connections, processes, "sold")
    finally:
        cpu.stop()
        watched = screens.stop()
    summary = report.summarise(firing, units=units)
    wal_after = asyncio.run(_with_context(settings, report.wal_position))
    wal = None if wal_before is None or wal_after is None else wal_after - wal_before
    audit = asyncio.run(_with_context(settings, report.audit_sale, sale.item_id))
    checks = report.checks(summary, audit)
    run = BenchRun(url, connections, processes, sale, firing, summary, audit, checks, cpu, wal)
    _show(run, generator)
    if replay:
        _replay(settings, target, sale, requests, summary, connections, processes)
    if board_screens:
        _show_screens(watched)
    _save(run, generator, out / f"bench-{stamp}", watched if board_screens else None, cpu)
    if any(c.must_hold and not c.passed for c in run.checks):
        raise SystemExit(1)


@dataclass(frozen=True)
class BenchRun:
    url: str
    connections: int
    processes: int
    sale: PreparedSale
    firing: Firing
    summary: report.RunSummary
    audit: report.StockAudit
    checks: list[report.Check]
    cpu: CpuWatch | None = None  # what each local part spent on the sale (Linux)
    wal_bytes: int | None = None  # PostgreSQL's write-ahead log written during it (None: SQLite)


async def _mark_hot(ctx: Any, sale: PreparedSale, rate: float) -> None:
    [operator] = await insert_buyers(ctx, f"{sale.run_id}-room", 1, role=Role.OPERATOR)
    await rooms.mark_hot(ctx, operator, sale.item_id, rooms.RoomSettings(admit_per_second=rate))


def _prepare(
    settings: Settings, target: Target, units: int, buyers: int
) -> tuple[PreparedSale, list[bytes], list[str]]:
    """The sale in the database and one ready-made request per buyer, all before the clock starts."""
    click.echo(f"preparing {units:,} units and {buyers:,} buyers ...", err=True)
    sale = asyncio.run(_with_context(settings, prepare_sale, units=units, buyers=buyers, run_id=new_run_id()))
    started = time.perf_counter()
    tokens = mint_tokens(settings, sale.buyer_ids, processes=os.cpu_count() or 1)
    sale.seconds["tokens"] = time.perf_counter() - started
    requests = [
        purchase_request(target, sale.item_id, token, f"bench-{sale.run_id}-{n}")
        for n, token in enumerate(tokens)
    ]
    click.echo("prepared in " + ", ".join(f"{k} {v:.1f} s" for k, v in sale.seconds.items()), err=True)
    return sale, requests, tokens


@click.command("loadcheck")
@url_option
@click.option("--requests", default=200_000, show_default=True, type=click.IntRange(1))
@connections_option
@processes_option
def loadcheck(url: str, requests: int, connections: int, processes: int) -> None:
    """Fire GET /livez (no database) to show how fast the load generator itself is."""
    summary = _check_generator(_target(url), requests, connections, processes)
    if summary.outcomes.keys() != {"200"}:
        raise SystemExit(1)


def _target(url: str) -> Target:
    try:
        return Target.from_url(url)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--url") from exc


def _replay(
    settings: Settings,
    target: Target,
    sale: PreparedSale,
    requests: list[bytes],
    summary: report.RunSummary,
    connections: int,
    processes: int,
) -> None:
    """Every purchase that bought, sent again with its own key (``bench-<run>-<n>`` is request n)."""
    keys = asyncio.run(_with_context(settings, report.keys_that_bought, sale.item_id))
    again = [requests[int(key.rsplit("-", 1)[1])] for key in keys]
    if not again:
        click.echo("nothing was bought: nothing to replay")
        return
    replayed = report.summarise(_fire(target, again, connections, processes, "replayed"))
    report.render(
        f"replay: {len(again):,} retries of purchases that bought", report.replay_lines(replayed, summary)
    )
    if replayed.outcomes.keys() != {"201"}:
        click.secho("some retries were NOT answered with their first answer (201)", fg="red")
        raise SystemExit(1)


def _fire(
    target: Target, requests: list[bytes] | RoomBuyers, connections: int, processes: int, label: str
) -> Firing:
    progress = report.ProgressBar(len(requests), label)
    try:
        return fire(target, requests, connections=connections, processes=processes, progress=progress)
    except GeneratorError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        progress.finish()


def _check_generator(target: Target, count: int, connections: int, processes: int) -> report.RunSummary:
    click.echo(f"load generator check: {count:,} x GET /livez", err=True)
    summary = report.summarise(_fire(target, [probe_request(target)] * count, connections, processes, "ok"))
    title = f"load generator against GET /livez ({processes} process(es), {connections} connections)"
    report.render(title, report.summary_lines(summary, sale=False))
    return summary


def _show(run: BenchRun, generator: report.RunSummary | None) -> None:
    title = (
        f"bench {run.sale.run_id}: {run.sale.units:,} units, {len(run.sale.buyer_ids):,} buyers, {run.url}"
    )
    report.render(title, report.summary_lines(run.summary))
    if run.firing.queue_ns:
        report.render("waiting room", report.queue_lines(run.firing))
    report.render("database", report.audit_lines(run.audit))
    if run.cpu is not None and run.cpu.used:
        title = "CPU per part, processes on this machine (docs/capacity.md)"
        report.render(title, cpu_parts.lines(run.cpu, run.summary.created, run.wal_bytes))
    report.render("checks", report.check_lines(run.checks))
    # The generator is not the bottleneck when it idled for much of the run and could go faster.
    busy = run.summary.generator_busy / run.processes
    verdict = "was NOT" if busy < 0.8 else "MAY have been"
    detail = f"its processes were busy {busy:.0%} of the time"
    if generator is not None:
        detail += f"; alone against /livez it reached {generator.attempts_per_s:,.0f} requests/s"
    click.echo(f"\nThe load generator {verdict} the bottleneck: {detail}.")


def _operator_token(settings: Settings, run_id: str) -> str:
    """A token of an operator of this run, for the board screens."""
    [operator_id] = asyncio.run(_with_context(settings, insert_buyers, f"{run_id}-op", 1, role=Role.OPERATOR))
    return issue_token(settings, Principal(operator_id, Role.OPERATOR), utc_now())


def _show_screens(watched: ScreensReport) -> None:
    p50, p99 = watched.percentile(0.5), watched.percentile(0.99)
    timing = "no answer" if p50 is None or p99 is None else f"p50 {p50:.1f} ms, p99 {p99:.1f} ms"
    report.render(
        f"live sale board: {watched.screens} screen(s) polling once a second",
        [("polls", f"{watched.polls:,}, failed: {watched.failures:,}, {timing}")],
    )


def _rush(
    settings: Settings, url: str, units: int, factor: int, rate: float | None, connections: int
) -> None:
    """``--rush``: through the waiting room (bench/rush.py); exits 1 on a 5xx answer or an oversell."""
    from flashport.bench import rush

    plan = rush.RushPlan(units=units, factor=factor, admit_per_second=rate)
    click.echo(f"rush: {plan.buyers:,} buyers for {units:,} units, through the waiting room ...", err=True)
    found = asyncio.run(_with_context(settings, rush.rush, url, plan, connections))
    report.render(f"Rush through the waiting room ({url})", found.lines())
    if not found.holds:
        raise SystemExit(1)


async def _with_context(settings: Settings, action: Any, *args: Any, **kwargs: Any) -> Any:
    """The platform's own context, stock engine included, so ``items_changed`` reaches Redis."""
    ctx = await build_context(settings, listen_for_restock=False)
    try:
        return await action(ctx, *args, **kwargs)
    finally:
        await close_context(ctx)


def _save(
    run: BenchRun,
    generator: report.RunSummary | None,
    stem: Path,
    screens: ScreensReport | None = None,
    cpu: CpuWatch | None = None,
) -> None:
    """The JSON results and the SVG chart, side by side."""
    sale = run.sale
    sold, rates = timelines(run.firing)
    title = f"Flashport bench {sale.run_id}: {sale.units:,} units sold over time"
    stem.parent.mkdir(parents=True, exist_ok=True)
    stem.with_suffix(".svg").write_text(sold_over_time_svg(sold, rates, title=title, units=sale.units))
    settings = {"url": run.url, "units": sale.units, "buyers": len(sale.buyer_ids)}
    settings |= {"connections": run.connections, "processes": run.processes}
    document = report.as_json(
        run={"run_id": sale.run_id, "event_id": sale.event_id, "item_id": sale.item_id, **settings},
        preparation_seconds=sale.seconds,
        summary=run.summary,
        database=run.audit,
        checks=run.checks,
        generator_check=generator,
        sold_per_second=[list(point) for point in sold[::10]],  # the timeline is in 0.1 s steps
        attempts_per_second=[list(point) for point in rates],
        board_screens=None if screens is None else screens.as_json(),
        cpu_seconds=None if cpu is None or not cpu.used else cpu.used,
        cpu_us_per_order=None if cpu is None or not cpu.used else cpu.per_order_us(run.summary.created),
        wal_bytes=run.wal_bytes,
    )
    report.write_json(stem.with_suffix(".json"), document)
    click.echo(f"wrote {stem.with_suffix('.json')} and {stem.with_suffix('.svg')}")


@click.command("bench-expiry")
@click.option("--units", default=100_000, show_default=True, type=click.IntRange(1, MAX_ITEM_QUANTITY))
@click.option(
    "--sweepers", default=1, show_default=True, type=click.IntRange(1, 16), help="Workers sweeping at once."
)
@click.option(
    "--window",
    default=2,
    show_default=True,
    type=click.IntRange(1, 3600),
    help="Payment window (seconds) of the orders placed for the run.",
)
def bench_expiry(units: int, sweepers: int, window: int) -> None:
    """Place UNITS unpaid orders, let their payment window close, and time the sweep that expires them
    and returns their units. Exits 1 if an order was not expired exactly once or a unit stayed taken."""
    from flashport.bench import expiry

    settings = load_settings()
    click.echo(f"placing {units:,} orders with a {window} s payment window ...", err=True)
    result = asyncio.run(expiry.run(settings, units=units, sweepers=sweepers, window_seconds=window))
    engine = "redis" if settings.redis_url else "sql"
    database = "sqlite" if settings.is_sqlite else "postgresql"
    click.echo(f"expiry bench: {units:,} orders, {sweepers} sweeper(s), {database} + {engine} stock engine")
    per_order_us = 1e6 * result.sweeper_cpu_s / max(1, result.expired)
    rows = [
        ("placed in", f"{result.placing_s:.2f} s"),
        ("expired", f"{result.expired:,} in {result.sweeping_s:.2f} s"),
        ("expired/s", f"{result.expired_per_s:,.0f}"),
        (
            "sweeper CPU",
            f"{result.sweeper_cpu_s:.2f} s ({per_order_us:.0f} µs an order)",
        ),
        ("orders not expired", f"{result.not_expired:,}"),
        ("order.expired events missing / twice", f"{result.events_missing:,} / {result.events_duplicated:,}"),
        ("units the stock engine still holds", f"{result.units_still_taken:,}"),
    ]
    for name, value in rows:
        click.echo(f"  {name:<38} {value}")
    click.echo("every order expired once and every unit returned: " + ("ok" if result.passed else "FAILED"))
    if not result.passed:
        raise SystemExit(1)
