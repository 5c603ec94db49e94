"""``flashport bench-pipeline`` (registered by flashport.cli): runs bench/pipeline.py, prints the figures
and the audit, and writes them as JSON with an SVG chart to ``bench-results/``.

It runs on the configured PostgreSQL and Redis (FLASHPORT_DATABASE_URL, FLASHPORT_REDIS_URL), or with
``--scratch`` on a database and a Redis prefix it creates beside them for the run and drops afterwards.
"""

from __future__ import annotations

import os
import signal
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from flashport.bench import pipeline, report
from flashport.bench.pipeline_chart import stages_svg
from flashport.bench.pipeline_report import (
    as_json,
    audit_lines,
    cpu_lines,
    stage_lines,
    summary_lines,
)
from flashport.bench.pipeline_scratch import scratch_space
from flashport.settings import Settings, load_settings


@click.command("bench-pipeline")
@click.option("--orders", default=300, show_default=True, type=click.IntRange(1, 1_000_000))
@click.option(
    "--workers", default=1, show_default=True, type=click.IntRange(1, 16), help="flashport worker processes."
)
@click.option(
    "--timeout",
    default=900.0,
    show_default=True,
    type=click.FloatRange(1),
    help="Seconds the workers get to finish (and the payments to settle).",
)
@click.option(
    "--live",
    is_flag=True,
    help="Start the workers before the first payment instead of once all are paid (the backlog).",
)
@click.option(
    "--concurrency",
    default=32,
    show_default=True,
    type=click.IntRange(1, 1024),
    help="Buyers paying at once.",
)
@click.option(
    "--scratch",
    is_flag=True,
    help="Run on a new database and Redis prefix, created beside the configured ones and dropped after.",
)
@click.option("--out", default=Path("bench-results"), show_default=True, type=click.Path(path_type=Path))
def bench_pipeline(
    orders: int, workers: int, timeout: float, live: bool, concurrency: int, scratch: bool, out: Path
) -> None:
    """Pay ORDERS orders through the real buy path and provider, then time the back office (declare,
    customs receipts, release, ship) with WORKERS worker processes until every order has shipped, and
    audit that each went through exactly once. Exits 1 if the audit fails or the timeout passes."""
    # A kill stops the children too, as Ctrl-C does; the caller's own handler is back afterwards.
    previous = signal.signal(signal.SIGTERM, _stop_as_interrupt)
    try:
        _bench_pipeline(pipeline.Options(orders, workers, timeout, live, concurrency), scratch, out)
    finally:
        signal.signal(signal.SIGTERM, previous)


def _bench_pipeline(options: pipeline.Options, scratch: bool, out: Path) -> None:
    settings = load_settings()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    load_before = os.getloadavg()  # a busy machine slows every stage: said beside the figures
    if scratch:
        with scratch_space(settings) as scratch_settings:
            result = pipeline.run(scratch_settings, options, say=_say)
    else:
        _require_postgresql(settings)
        _migrate(settings)
        result = pipeline.run(settings, options, say=_say)
    load = {"before": list(load_before), "after": list(os.getloadavg())}
    _show(result, load)
    _save(result, load, out / f"pipeline-{stamp}")
    if not result.passed:
        raise SystemExit(1)


def _stop_as_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def _say(text: str) -> None:
    click.echo(text, err=True)


def _require_postgresql(settings: Settings) -> None:
    if settings.is_sqlite:
        raise click.ClickException(
            "bench-pipeline runs on PostgreSQL: set FLASHPORT_DATABASE_URL (and FLASHPORT_REDIS_URL), "
            "or use --scratch"
        )
    if not settings.redis_url:
        click.secho(
            "note: FLASHPORT_REDIS_URL is not set; the platform uses the SQL stock engine", fg="yellow"
        )


def _migrate(settings: Settings) -> None:
    from flashport.adapters.db import migrate

    migrate.upgrade(settings)


def _show(result: pipeline.PipelineRun, load: dict[str, list[float]]) -> None:
    o = result.options
    mode = "workers started before the first payment" if o.live else "workers started once all were paid"
    title = (
        f"bench-pipeline {result.run_id}: {o.orders:,} orders, {o.workers} worker(s), {mode}, "
        f"PostgreSQL + {result.stock_engine} stock engine"
    )
    report.render(title, summary_lines(result.figures))
    report.render(
        "stages (time since the first payment, rate over the stage's own span)", stage_lines(result.figures)
    )
    for phase, rows in result.cpu.items():
        report.render(f"CPU per process, {phase}", cpu_lines(rows))
    report.render("phases", [(name, f"{s:.1f} s") for name, s in result.seconds.items()])
    averages = {when: " / ".join(f"{v:.2f}" for v in values) for when, values in load.items()}
    report.render("load average (1 / 5 / 15 min)", list(averages.items()))
    report.render("audit", audit_lines(result.checks))
    if result.timed_out:
        click.secho(f"\nTIMED OUT after {o.timeout_s:.0f} s; not finished, for example:", fg="red")
        for line in result.stuck:
            click.echo(f"  {line}")
    click.echo(f"\nchildren's logs: {result.run_dir}")
    click.echo("audit: " + ("passed" if result.passed else "FAILED"))


def _save(result: pipeline.PipelineRun, load: dict[str, list[float]], stem: Path) -> None:
    o = result.options
    run = {
        "run_id": result.run_id,
        "orders": o.orders,
        "workers": o.workers,
        "mode": "live" if o.live else "backlog",
        "timeout_s": o.timeout_s,
        "timed_out": result.timed_out,
        "concurrency": o.concurrency,
        "stock_engine": result.stock_engine,
        "run_dir": str(result.run_dir),
        "load_average": load,
        "cpus": os.cpu_count(),
    }
    document = as_json(
        result.figures,
        settings=run,
        checks=result.checks,
        cpu=result.cpu,
        series=result.series,
        seconds=result.seconds,
    )
    report.write_json(stem.with_suffix(".json"), document)
    title = f"Flashport bench-pipeline {result.run_id}: {o.orders:,} orders, {o.workers} worker(s)"
    svg = stages_svg(
        result.series, title=title, orders=o.orders, workers_started_s=result.figures.workers_started_s
    )
    stem.with_suffix(".svg").write_text(svg)
    click.echo(f"wrote {stem.with_suffix('.json')} and {stem.with_suffix('.svg')}")
