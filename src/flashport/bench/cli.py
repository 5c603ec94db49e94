"""``flashport bench`` and ``flashport loadcheck`` (registered by flashport.cli).

The bench reads the same FLASHPORT_* settings as the server it targets: it writes the sale into that
server's database and signs tokens with that server's secret key.
"""

from __future__ import annotations

import asyncio
import os
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from flashport.bench import report
from flashport.bench.chart import sold_over_time_svg, timelines
from flashport.bench.loadgen import (
    Firing,
    GeneratorError,
    Target,
    fire,
    probe_request,
    purchase_request,
)
from flashport.bench.setup import PreparedSale, mint_tokens, new_run_id, prepare_sale
from flashport.bootstrap import build_context, close_context
from flashport.domain.events import MAX_ITEM_QUANTITY
from flashport.settings import Settings, load_settings

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
@click.option("--units", default=600_000, show_default=True, type=click.IntRange(1, MAX_ITEM_QUANTITY))
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
def bench(
    url: str,
    units: int,
    buyers: int | None,
    connections: int,
    processes: int,
    out: Path,
    generator_check: int,
) -> None:
    """Sell UNITS units (limit 1 per buyer) to BUYERS buyers over HTTP, then prove nothing was oversold."""
    target = _target(url)
    settings = load_settings()
    buyers = buyers or -(-units * 6 // 5)  # 20% more buyers than units, so the last units are contested
    if settings.is_sqlite:
        click.secho(
            "note: FLASHPORT_DATABASE_URL is not set; benchmarking the embedded SQLite setup", fg="yellow"
        )
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    generator = _check_generator(target, generator_check, connections, processes) if generator_check else None

    click.echo(f"preparing {units:,} units and {buyers:,} buyers ...", err=True)
    sale = asyncio.run(_with_context(settings, prepare_sale, units=units, buyers=buyers, run_id=new_run_id()))
    started = time.perf_counter()
    tokens = mint_tokens(settings, sale.buyer_ids, processes=os.cpu_count() or 1)
    sale.seconds["tokens"] = time.perf_counter() - started
    requests = [
        purchase_request(target, sale.item_id, token, f"bench-{sale.run_id}-{n}")
        for n, token in enumerate(tokens)
    ]
    del tokens
    click.echo("prepared in " + ", ".join(f"{k} {v:.1f} s" for k, v in sale.seconds.items()), err=True)

    firing = _fire(target, requests, connections, processes, "sold")
    summary = report.summarise(firing, units=units)
    audit = asyncio.run(_with_context(settings, report.audit_sale, sale.item_id))
    results = report.checks(summary, audit)
    report.render(
        f"bench {sale.run_id}: {units:,} units, {buyers:,} buyers, {url}", report.summary_lines(summary)
    )
    report.render("database", report.audit_lines(audit))
    report.render("checks", report.check_lines(results))
    _say_whether_generator_kept_up(summary, generator, processes)
    _save(
        out / f"bench-{stamp}", sale, firing, summary, audit, results, generator, url, connections, processes
    )
    if any(c.must_hold and not c.passed for c in results):
        raise SystemExit(1)


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


def _fire(target: Target, requests: list[bytes], connections: int, processes: int, label: str) -> Firing:
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


def _say_whether_generator_kept_up(
    summary: report.RunSummary, generator: report.RunSummary | None, processes: int
) -> None:
    """The generator is not the bottleneck when it idled for part of the run and could go faster."""
    busy = summary.generator_busy / processes
    verdict = "was NOT" if busy < 0.8 else "MAY have been"
    detail = f"its processes were busy {busy:.0%} of the time"
    if generator is not None:
        detail += f"; alone against /livez it reached {generator.attempts_per_s:,.0f} requests/s"
    click.echo(f"\nThe load generator {verdict} the bottleneck: {detail}.")


async def _with_context(settings: Settings, action: Any, *args: Any, **kwargs: Any) -> Any:
    """The platform's own context, stock engine included, so ``items_changed`` reaches Redis."""
    ctx = await build_context(settings, listen_for_restock=False)
    try:
        return await action(ctx, *args, **kwargs)
    finally:
        await close_context(ctx)


def _save(
    stem: Path,
    sale: PreparedSale,
    firing: Firing,
    summary: report.RunSummary,
    audit: report.StockAudit,
    results: list[report.Check],
    generator: report.RunSummary | None,
    url: str,
    connections: int,
    processes: int,
) -> None:
    sold, rates = timelines(firing)
    title = f"Flashport bench {sale.run_id}: {sale.units:,} units sold over time"
    stem.parent.mkdir(parents=True, exist_ok=True)
    stem.with_suffix(".svg").write_text(sold_over_time_svg(sold, rates, title=title, units=sale.units))
    run = {"run_id": sale.run_id, "url": url, "units": sale.units, "buyers": len(sale.buyer_ids)}
    run |= {"connections": connections, "processes": processes, "item_id": sale.item_id}
    document = report.as_json(
        run=run,
        preparation_seconds=sale.seconds,
        summary=summary,
        database=audit,
        checks=results,
        generator_check=generator,
        sold_per_second=[[t, v] for t, v in sold[::10]],
        attempts_per_second=[list(point) for point in rates],
    )
    report.write_json(stem.with_suffix(".json"), document)
    click.echo(f"wrote {stem.with_suffix('.json')} and {stem.with_suffix('.svg')}")
