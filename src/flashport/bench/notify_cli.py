"""``flashport bench-notify`` (registered by flashport.cli): signed payment notifications fired at a
running platform (``flashport serve``) on the configured database; see bench/notify.py."""

from __future__ import annotations

import asyncio
import time

import click

from flashport.adapters.payments import alipay_protocol as proto
from flashport.bench import notify
from flashport.bench.cpu import tree_cpu_seconds
from flashport.bench.loadgen import Target, fire
from flashport.bench.report import Latency
from flashport.bootstrap import build_context, close_context
from flashport.sandbox_pay.keys import ensure_keys
from flashport.settings import load_settings


@click.command("bench-notify")
@click.option("--notifications", default=3000, show_default=True, type=click.IntRange(1, 1_000_000))
@click.option("--connections", default=64, show_default=True, type=click.IntRange(1, 4096))
@click.option("--url", default="http://127.0.0.1:8000", show_default=True, help="The running platform.")
@click.option(
    "--duplicates",
    default=0.1,
    show_default=True,
    type=click.FloatRange(0, 1),
    help="Share of notifications sent a second time (a provider's retries).",
)
@click.option("--api-pid", type=int, default=None, help="PID of `flashport serve`: its CPU is measured.")
@click.option("--processes", default=1, show_default=True, type=click.IntRange(1, 8))
def bench_notify(
    notifications: int, connections: int, url: str, duplicates: float, api_pid: int | None, processes: int
) -> None:
    """Prepare NOTIFICATIONS checked-out orders with pending payments, fire one signed
    ``trade_status_sync`` for each (plus duplicates) at the platform over CONNECTIONS keep-alive
    connections, and audit that each order was paid exactly once. Exits 1 if the audit fails."""
    settings = load_settings()
    target = Target.from_url(url)
    key = proto.load_private_key(ensure_keys(settings.data_dir).provider_private)

    async def prepare() -> notify.PreparedPayments:
        ctx = await build_context(settings, listen_for_restock=False)
        try:
            return await notify.prepare_payments(ctx, notifications, notify.new_run_id())
        finally:
            await close_context(ctx)

    started = time.perf_counter()
    prepared = asyncio.run(prepare())
    from datetime import UTC, datetime

    now = datetime.now(UTC)
    bodies = [
        notify.signed_form(
            notify.notification_fields(settings.payment_app_id, no, notify.SALE_PRICE_FEN, now), key
        )
        for no in prepared.out_trade_nos
    ]
    requests = [notify.notify_request(target, body) for body in notify.with_duplicates(bodies, duplicates)]
    click.echo(
        f"prepared {notifications} orders and {len(requests)} signed notifications "
        f"in {time.perf_counter() - started:.1f} s (run {prepared.run_id})",
        err=True,
    )
    cpu_before = tree_cpu_seconds(api_pid) if api_pid else None
    firing = fire(target, requests, connections=connections, processes=processes)
    api_cpu = tree_cpu_seconds(api_pid) - cpu_before if api_pid and cpu_before is not None else None

    async def check() -> notify.NotifyAudit:
        ctx = await build_context(settings, listen_for_restock=False)
        try:
            return await notify.audit(ctx, prepared, len(requests))
        finally:
            await close_context(ctx)

    result = asyncio.run(check())
    latency = Latency.of(firing.latency_ns)
    wall = firing.wall_seconds
    click.echo(f"notifications sent:   {len(requests)} ({len(requests) - notifications} duplicates)")
    click.echo(f"answers:              {dict(firing.outcomes)}")
    click.echo(f"wall time:            {wall:.2f} s")
    click.echo(f"settled per second:   {result.paid / wall:.0f}  (requests {len(requests) / wall:.0f}/s)")
    click.echo(
        f"latency ms:           p50 {latency.p50_ms:.1f}  p95 {latency.p95_ms:.1f}  "
        f"p99 {latency.p99_ms:.1f}  max {latency.max_ms:.1f}"
    )
    if api_cpu is not None:
        click.echo(
            f"API CPU:              {api_cpu:.2f} s = {1000 * api_cpu / len(requests):.2f} ms a notification"
        )
    click.echo(f"generator CPU:        {firing.cpu_seconds:.2f} s")
    click.echo(
        f"audit:                paid {result.paid}/{result.orders}, payments succeeded "
        f"{result.payments_succeeded}, wrong payment.succeeded {result.payment_events_wrong}, "
        f"wrong order.paid {result.paid_events_wrong}, refunds {result.refunds}, "
        f"notifications stored {result.notifications_stored}/{result.notifications_expected}"
    )
    ok = result.passed and firing.outcomes.get("200", 0) == len(requests)
    click.secho("audit passed" if ok else "AUDIT FAILED", fg="green" if ok else "red")
    if not ok:
        raise SystemExit(1)
