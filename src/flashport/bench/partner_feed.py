"""Partner feed benchmark: a rush of orders through the buy path, three partners subscribed by webhook
(the supplier of the goods, the carrier, the payment company), and how long each event takes from its
commit to the partner's receiver, plus how far the feed lags behind the outbox.

Orders are bought through the buy path itself (``services.sales.buying.buy``: the stock engine and the
group commit, which writes each order with its ``order.created``). Each tick's orders are then paid and
declared in one transaction that writes the payment and declaration rows and their records
(``payment.succeeded``, ``declaration.declared``) as settlement and declaring do; the customs flow
itself is ``bench-pipeline``'s business. A real ``flashport worker`` process runs the partner stages
(relay, queue, send), with the SQL outbox or, with ``--nats``, through NATS JetStream (a stream of the
run's own, deleted after); the receivers are a real HTTP server on a loopback port in this process.
The audit: every (partner, event) arrived, none under two webhook-ids.

    python -m flashport.bench.partner_feed --rate 2000 --seconds 10 [--database-url postgresql://...] [--nats]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from flashport.adapters.db import migrate
from flashport.adapters.db.partners_schema import partner_events, relay_cursors
from flashport.adapters.db.schema import outbox, products, sale_items, skus
from flashport.bench import partner_feed_buyers as buyers
from flashport.bench.partner_feed_hops import Hop, hops
from flashport.bench.report import percentile
from flashport.bench.setup import new_run_id, prepare_sale
from flashport.bootstrap import build_context, close_context
from flashport.domain.partners import PartnerKind
from flashport.services.context import Context
from flashport.services.partners import registry, webhooks
from flashport.settings import Settings

EVENTS_PER_ORDER = 4  # supplier: created + payment; carrier: declared; payment company: payment


@dataclass(frozen=True)
class PartnerFeedRun:
    backend: str
    orders: int
    orders_per_second: float
    deliveries_expected: int
    events_received: int
    missing: int
    duplicates: int
    commit_to_delivery_p50_ms: float
    commit_to_delivery_p99_ms: float
    commit_to_delivery_max_ms: float
    feed_lag_p50_ms: float
    feed_lag_p99_ms: float
    drained_seconds: float  # after the last order, until the last event arrived
    hops: list[Hop]  # where the commit-to-delivery time went (partner_feed_hops)


async def _supplier_of(ctx: Context, item_id: int) -> int:
    async with ctx.read() as conn:
        found = await conn.scalar(
            sa.select(products.c.supplier_id)
            .select_from(sale_items.join(skus, skus.c.id == sale_items.c.sku_id))
            .join(products, products.c.id == skus.c.product_id)
            .where(sale_items.c.id == item_id)
        )
    return int(found or 0)


async def _first_relay_pass(ctx: Context, worker: Any, within: float = 120.0) -> None:
    """Wait until the worker is up: its relay has made its cursor (its first pass)."""
    deadline = time.monotonic() + within
    while True:
        async with ctx.read() as conn:
            if await conn.scalar(sa.select(relay_cursors.c.name).where(relay_cursors.c.name == "partners")):
                return
        if worker.returncode is not None or time.monotonic() > deadline:
            raise RuntimeError("the worker did not start")
        await asyncio.sleep(0.1)


def _worker_env(settings: Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLASHPORT_")}
    if settings.secret_key:  # the endpoint secrets are sealed under it (else: data_dir/secrets.json)
        env["FLASHPORT_SECRET_KEY"] = settings.secret_key
    env |= {
        "FLASHPORT_ENV": settings.env,
        "FLASHPORT_DATA_DIR": str(settings.data_dir),
        "FLASHPORT_LOG_LEVEL": "warning",
        "FLASHPORT_PARTNER_POLL_SECONDS": str(settings.partner_poll_seconds),
        "FLASHPORT_PARTNER_BUS": settings.partner_bus,
        "FLASHPORT_NATS_URL": settings.nats_url,
        "FLASHPORT_NATS_STREAM": settings.nats_stream,
        "FLASHPORT_NATS_SUBJECT_PREFIX": settings.nats_subject_prefix,
        "FLASHPORT_NATS_CONSUMER": settings.nats_consumer,
        "FLASHPORT_CUSTOMS_URL": "http://127.0.0.1:9/none",  # no single window: its stages idle
    }
    if settings.database_url:
        env["FLASHPORT_DATABASE_URL"] = settings.database_url
    if settings.redis_url:
        env |= {"FLASHPORT_REDIS_URL": settings.redis_url, "FLASHPORT_REDIS_PREFIX": settings.redis_prefix}
    return env


DELIVERY_STAGES = ("webhooks_queued", "webhooks_sent")


@contextlib.asynccontextmanager
async def _worker(settings: Settings, delivery_workers: int = 0) -> Any:
    """A real ``flashport worker`` (every stage; only the partner ones find work); with
    ``delivery_workers``, the queueing and sending stages run in that many processes of their own
    instead (as delivery workers on other machines would), and the first keeps the rest."""
    env = _worker_env(settings)
    command = [sys.executable, "-m", "flashport", "worker"]
    skip = [f"--skip={s}" for s in DELIVERY_STAGES] if delivery_workers else []
    procs = [await asyncio.create_subprocess_exec(*command, *skip, env=env)]
    only = [f"--only={s}" for s in DELIVERY_STAGES]
    try:
        for _ in range(delivery_workers):
            procs.append(await asyncio.create_subprocess_exec(*command, *only, env=env))
        yield procs[0]
    finally:
        for proc in procs:
            if proc.returncode is None:
                proc.terminate()
        for proc in procs:
            try:
                await asyncio.wait_for(proc.wait(), 20)
            except TimeoutError:
                proc.kill()
                await proc.wait()


async def run(
    settings: Settings,
    *,
    rate: int,
    seconds: float,
    drain_within: float = 120.0,
    delivery_workers: int = 0,
    processes: int = 1,
) -> PartnerFeedRun:
    """On a migrated database (:func:`flashport.adapters.db.migrate.upgrade` first). With
    ``settings.partner_bus == "nats"`` the run's stream is deleted at the end."""
    ctx = await build_context(settings, listen_for_restock=False)
    received: list[tuple[str, str, str, float]] = []  # (receiver, webhook-id, event id|subject|type, when)

    async def hook(request: Request) -> Response:
        body = json.loads(await request.body())
        at = time.time()
        events = body["data"]["events"] if body["type"] == "batch" else [body["data"]]
        for event in events:
            key = f"{event['id']}|{event['subject']}|{event['type']}"
            received.append((request.path_params["who"], request.headers["webhook-id"], key, at))
        return Response(status_code=204)

    server = uvicorn.Server(
        uvicorn.Config(
            Starlette(routes=[Route("/{who}", hook, methods=["POST"])]),
            host="127.0.0.1",
            port=0,
            log_level="warning",
        )
    )
    server.install_signal_handlers = lambda: None  # type: ignore[attr-defined]
    serving = asyncio.create_task(server.serve())
    ticks = int(seconds / buyers.TICK_SECONDS)
    per_tick = max(1, round(rate * buyers.TICK_SECONDS))
    try:
        while not server.started:  # noqa: ASYNC110 - uvicorn offers no event to wait on
            await asyncio.sleep(0.01)
        base = f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
        run_id = new_run_id()
        sale = await prepare_sale(ctx, units=ticks * per_tick, buyers=ticks * per_tick, run_id=run_id)
        links = {
            "supplier": {"kind": PartnerKind.SUPPLIER, "supplier_id": await _supplier_of(ctx, sale.item_id)},
            "carrier": {"kind": PartnerKind.CARRIER, "logistics_code": "BENCHLC"},
            "payer": {"kind": PartnerKind.PAYMENT_COMPANY, "pay_code": "benchpay"},
        }
        endpoints: dict[str, int] = {}
        for who, link in links.items():
            partner = await registry.register(ctx, name=f"bench {who} {run_id}", **link)  # type: ignore[arg-type]
            made = await webhooks.create(ctx, partner.id, f"{base}/{who}", [])
            endpoints[who] = made.endpoint.id
        async with _worker(settings, delivery_workers) as worker:
            await _first_relay_pass(ctx, worker)
            shares = buyers.shares(settings, sale.item_id, sale.buyer_ids, ticks, per_tick, processes)
            committed, produced_for = await buyers.produce(ctx, shares)
            orders_made = len(committed) // 2
            expected = orders_made * EVENTS_PER_ORDER
            last_order = time.monotonic()
            deadline = last_order + drain_within
            while len({(w, e) for w, _, e, _ in received}) < expected and time.monotonic() < deadline:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
            drained = time.monotonic() - last_order
        first_seen = _first_seen(received)
        stored = await ctx.partner_bus.stored_at() if ctx.partner_bus is not None else None
        async with ctx.read() as conn:
            lags = (
                await conn.execute(
                    sa.select(partner_events.c.created_at, outbox.c.occurred_at).join(
                        outbox, outbox.c.id == partner_events.c.outbox_id
                    )
                )
            ).all()
            where_it_went = await hops(
                conn, first_seen, {r: committed[_commit_of(r[1])] for r in first_seen}, endpoints, stored
            )
    finally:
        server.should_exit = True
        await serving
        if ctx.partner_bus is not None:
            await ctx.partner_bus.delete_stream()
        await close_context(ctx)

    # A duplicate: the same (receiver, event) under a second webhook-id (a redelivery under the same
    # id is what receivers drop, and is not one).
    ids_per_event: dict[tuple[str, str], set[str]] = {}
    for w, message_id, e, _ in received:
        ids_per_event.setdefault((w, e), set()).add(message_id)
    latencies = sorted(int((at - committed[_commit_of(e)]) * 1e9) for (w, e), at in first_seen.items())
    feed_lags = sorted(int((made - occurred).total_seconds() * 1e9) for made, occurred in lags)

    def ms(values: list[int], p: float) -> float:
        return round(percentile(values, p) / 1e6, 1) if values else 0.0

    return PartnerFeedRun(
        backend="sqlite" if settings.is_sqlite else "postgresql",
        orders=orders_made,
        orders_per_second=round(orders_made / produced_for, 1),
        deliveries_expected=expected,
        events_received=len(first_seen),
        missing=expected - len(first_seen),
        duplicates=sum(len(ids) - 1 for ids in ids_per_event.values()),
        commit_to_delivery_p50_ms=ms(latencies, 50),
        commit_to_delivery_p99_ms=ms(latencies, 99),
        commit_to_delivery_max_ms=round(latencies[-1] / 1e6, 1) if latencies else 0.0,
        feed_lag_p50_ms=ms(feed_lags, 50),
        feed_lag_p99_ms=ms(feed_lags, 99),
        drained_seconds=round(drained, 2),
        hops=where_it_went,
    )


def _first_seen(received: list[tuple[str, str, str, float]]) -> dict[tuple[str, str], float]:
    first: dict[tuple[str, str], float] = {}
    for w, _, e, at in received:
        first.setdefault((w, e), at)
    return first


def _commit_of(key: str) -> tuple[str, str]:
    """The commit an event came from: the buy (order.created) or the tick's payment and declaring."""
    _, subject, type_ = key.split("|")
    return subject.removeprefix("order:"), "buy" if type_ == "order.created" else "pay"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rate", type=int, default=500, help="orders a second")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument(
        "--database-url", default=None, help="PostgreSQL URL (a scratch database); default SQLite"
    )
    parser.add_argument("--redis-url", default=None, help="Redis stock engine (the production buy path)")
    parser.add_argument("--nats", action="store_true", help="through NATS JetStream (FLASHPORT_NATS_URL)")
    parser.add_argument(
        "--buyer-processes", type=int, default=1, help="processes buying (and paying), the rate split"
    )
    parser.add_argument(
        "--delivery-workers",
        type=int,
        default=0,
        help="queue and send webhooks in this many worker processes of their own (default: in the one)",
    )
    args = parser.parse_args(argv)
    data_dir = Path(tempfile.mkdtemp(prefix="fp-bench-partners-"))
    tag = uuid.uuid4().hex[:8]
    bus: dict[str, Any] = (
        {
            "partner_bus": "nats",
            "nats_url": os.environ.get("FLASHPORT_NATS_URL", "nats://127.0.0.1:4222"),
            "nats_stream": f"FPBENCH_{tag}",
            "nats_subject_prefix": f"fpbench.{tag}",
            "nats_consumer": f"fpbench-{tag}",
        }
        if args.nats
        else {}
    )
    settings = Settings(
        env="test",
        data_dir=data_dir,
        database_url=args.database_url,
        redis_url=args.redis_url,
        redis_prefix=f"fpbench{tag}",
        **bus,
    )
    migrate.upgrade(settings)
    try:
        done = run(
            settings,
            rate=args.rate,
            seconds=args.seconds,
            delivery_workers=args.delivery_workers,
            processes=args.buyer_processes,
        )
        print(json.dumps(asdict(asyncio.run(done)), indent=2))
    finally:
        if args.redis_url:
            asyncio.run(_drop_keys(args.redis_url, settings.redis_prefix))


async def _drop_keys(url: str, prefix: str) -> None:
    """The run's stock-engine keys (its own prefix) go with it."""
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(url)
    try:
        keys = [k async for k in client.scan_iter(match=f"{prefix}:*", count=1000)]
        for start in range(0, len(keys), 500):
            await client.delete(*keys[start : start + 500])
    finally:
        await client.aclose()


if __name__ == "__main__":
    main()
