"""Partner feed benchmark: a stream of orders, three partners subscribed by webhook (the supplier of the
goods, the carrier, the payment company), and how long each event takes from its commit to the
partner's receiver, plus how far the feed lags behind the outbox.

Each order is committed with its line, payment and declaration and three outbox records (order.created,
payment.succeeded, declaration.declared), the rows the buy path, settlement and declaring write; the
orders are inserted directly, so this measures the partner path, not the buy path. One loop in this
process plays the worker's partner job (relay, queue, send) as fast as it can; the receivers are a real
HTTP server on a loopback port. The audit: every (partner, event) arrived, none twice.

    python -m flashport.bench.partner_feed --rate 500 --seconds 10 [--database-url postgresql://...]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import uvicorn
from sqlalchemy.ext.asyncio import AsyncConnection
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from flashport.adapters.db import migrate
from flashport.adapters.db.partners_schema import partner_events
from flashport.adapters.db.schema import (
    brands,
    declarations,
    order_lines,
    orders,
    outbox,
    payments,
    products,
    sale_events,
    sale_items,
    skus,
    suppliers,
    warehouses,
)
from flashport.bench.report import percentile
from flashport.bench.setup import insert_buyers
from flashport.bootstrap import build_context, close_context
from flashport.domain.partners import PartnerKind
from flashport.services.context import Context
from flashport.services.partners import jobs, registry, webhooks
from flashport.settings import Settings

TICK_SECONDS = 0.05
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


async def _goods(ctx: Context) -> _Goods:
    async with ctx.transaction() as tx:
        tag = uuid.uuid4().hex[:8]
        supplier_id = await tx.conn.scalar(
            suppliers.insert()
            .values(name=f"Bench {tag}", country="FR", created_at=tx.now)
            .returning(suppliers.c.id)
        )
        brand_id = await tx.conn.scalar(
            brands.insert()
            .values(name=f"Bench {tag}", country="FR", created_at=tx.now)
            .returning(brands.c.id)
        )
        product_id = await tx.conn.scalar(
            products.insert()
            .values(
                brand_id=brand_id,
                supplier_id=supplier_id,
                title="Bench goods",
                images=[],
                origin_country="FR",
                hs_code="0402210000",
                legal_unit="035",
                declared_name="全脂奶粉",
                tax_category="reduced_vat",
                created_at=tx.now,
                updated_at=tx.now,
            )
            .returning(products.c.id)
        )
        sku_id = await tx.conn.scalar(
            skus.insert()
            .values(
                product_id=product_id,
                code=f"BENCH-{tag}",
                title="Bench goods 1 kg",
                original_price_fen=10_000,
                weight_grams=1000,
                unit="125",
                gmodel="品牌:测试|规格:1千克/包|成分:全脂乳粉",
                net_content=1,
                net_content_unit="kg",
                net_weight_grams=1000,
                packaging_weight_grams=50,
                created_at=tx.now,
                updated_at=tx.now,
            )
            .returning(skus.c.id)
        )
        goods = await _draft_item(tx.conn, tx.now, tag, int(sku_id))
    [buyer_id] = await insert_buyers(ctx, tag, 1)
    return _Goods(int(supplier_id), int(sku_id), *goods, buyer_id)


@dataclass(frozen=True)
class _Goods:
    """What the bench's orders point at: real rows, so they dangle nowhere (reconcile counts dangling
    references) and take no units of anyone else's item. The event stays a draft: never live, never
    known to the stock engine."""

    supplier_id: int
    sku_id: int
    event_id: int
    item_id: int
    buyer_id: int


async def _draft_item(conn: AsyncConnection, now: datetime, tag: str, sku_id: int) -> tuple[int, int]:
    warehouse_id = await conn.scalar(
        warehouses.insert()
        .values(
            code=f"BENCH-{tag}",
            name="Bench bonded warehouse",
            kind="bonded",
            customs_district="2244",
            country="CN",
            ems_no=f"T2244W{tag}"[:30],
            created_at=now,
        )
        .returning(warehouses.c.id)
    )
    event_id = await conn.scalar(
        sale_events.insert()
        .values(
            title=f"Bench feed {tag}",
            channel="bench",
            starts_at=now,
            ends_at=now + timedelta(days=7),
            state="draft",
            created_at=now,
            updated_at=now,
        )
        .returning(sale_events.c.id)
    )
    item_id = await conn.scalar(
        sale_items.insert()
        .values(
            event_id=event_id,
            sku_id=sku_id,
            warehouse_id=warehouse_id,
            sale_price_fen=4900,
            quantity=1_000_000,
            per_buyer_limit=1_000_000,
            created_at=now,
            updated_at=now,
        )
        .returning(sale_items.c.id)
    )
    return int(event_id), int(item_id)


async def _write_orders(ctx: Context, goods: _Goods, count: int) -> list[str]:
    numbers = [f"FPB{uuid.uuid4().hex[:16].upper()}" for _ in range(count)]
    async with ctx.transaction() as tx:
        now = tx.now
        ids = [str(uuid.uuid4()) for _ in numbers]
        await tx.conn.execute(
            orders.insert(),
            [
                {
                    "id": i,
                    "order_no": no,
                    "buyer_id": goods.buyer_id,
                    "event_id": goods.event_id,
                    "sale_item_id": goods.item_id,
                    "quantity": 1,
                    "status": "paid",
                    "fulfilment": "bonded",
                    "goods_value_fen": 4900,
                    "total_fen": 4900,
                    "idempotency_key": i,
                    "created_at": now,
                    "payment_deadline": now + timedelta(minutes=20),
                    "paid_at": now,
                }
                for i, no in zip(ids, numbers, strict=True)
            ],
        )
        await tx.conn.execute(
            order_lines.insert(),
            [
                {
                    "order_id": i,
                    "line_no": 1,
                    "sale_item_id": goods.item_id,
                    "sku_id": goods.sku_id,
                    "title": "Bench goods",
                    "quantity": 1,
                    "unit_price_fen": 4900,
                    "total_fen": 4900,
                }
                for i in ids
            ],
        )
        await tx.conn.execute(
            payments.insert(),
            [
                {
                    "order_id": i,
                    "order_no": no,
                    "attempt": 1,
                    "provider": "benchpay",
                    "out_trade_no": f"T{no}",
                    "amount_fen": 4900,
                    "status": "succeeded",
                    "created_at": now,
                    "updated_at": now,
                }
                for i, no in zip(ids, numbers, strict=True)
            ],
        )
        await tx.conn.execute(
            declarations.insert(),
            [
                {
                    "order_id": i,
                    "order_no": no,
                    "trade_mode": "1210",
                    "state": "declared",
                    "cop_no": f"C{no}",
                    "logistics_code": "BENCHLC",
                    "logistics_no": f"W{no}",
                    "next_attempt_at": now,
                    "created_at": now,
                    "updated_at": now,
                }
                for i, no in zip(ids, numbers, strict=True)
            ],
        )
        records: list[tuple[str, str, dict[str, Any]]] = []
        for no in numbers:
            subject = f"order:{no}"
            records += [
                ("order.created", subject, {"order_no": no, "quantity": 1}),
                ("payment.succeeded", subject, {"order_no": no, "amount": "49.00"}),
                ("declaration.declared", subject, {"order_no": no, "logistics_no": f"W{no}"}),
            ]
        await tx.emit_many(records)
    return numbers


async def run(
    settings: Settings, *, rate: int, seconds: float, drain_within: float = 120.0
) -> PartnerFeedRun:
    """On a migrated database (:func:`flashport.adapters.db.migrate.upgrade` first)."""
    ctx = await build_context(settings, listen_for_restock=False)
    committed: dict[str, float] = {}
    received: list[tuple[str, str, float]] = []  # (receiver, event id, when)
    expected = 0

    async def hook(request: Request) -> Response:
        body = json.loads(await request.body())
        at = time.time()
        events = body["data"]["events"] if body["type"] == "batch" else [body["data"]]
        for event in events:
            received.append((request.path_params["who"], f"{event['id']}|{event['subject']}", at))
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
    try:
        while not server.started:  # noqa: ASYNC110 - uvicorn offers no event to wait on
            await asyncio.sleep(0.01)
        base = f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
        goods = await _goods(ctx)
        tag = uuid.uuid4().hex[:6]
        links = {
            "supplier": {"kind": PartnerKind.SUPPLIER, "supplier_id": goods.supplier_id},
            "carrier": {"kind": PartnerKind.CARRIER, "logistics_code": "BENCHLC"},
            "payer": {"kind": PartnerKind.PAYMENT_COMPANY, "pay_code": "benchpay"},
        }
        for who, link in links.items():
            partner = await registry.register(ctx, name=f"bench {who} {tag}", **link)  # type: ignore[arg-type]
            await webhooks.create(ctx, partner.id, f"{base}/{who}", [])

        stop = asyncio.Event()

        async def worker() -> None:
            while not stop.is_set():
                if not await jobs.run(ctx):
                    await asyncio.sleep(0.01)

        running = asyncio.create_task(worker())
        started = time.monotonic()
        ticks = int(seconds / TICK_SECONDS)
        per_tick = max(1, round(rate * TICK_SECONDS))
        for n in range(ticks):
            for no in await _write_orders(ctx, goods, per_tick):
                committed[no] = time.time()
            await asyncio.sleep(max(0.0, started + (n + 1) * TICK_SECONDS - time.monotonic()))
        produced_for = time.monotonic() - started
        expected = len(committed) * EVENTS_PER_ORDER
        last_order = time.monotonic()
        deadline = last_order + drain_within
        while len({(w, e) for w, e, _ in received}) < expected and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        drained = time.monotonic() - last_order
        stop.set()
        await running
        async with ctx.read() as conn:
            lags = (
                await conn.execute(
                    sa.select(partner_events.c.created_at, outbox.c.occurred_at).join(
                        outbox, outbox.c.id == partner_events.c.outbox_id
                    )
                )
            ).all()
    finally:
        server.should_exit = True
        await serving
        await close_context(ctx)

    counts = Counter((w, e) for w, e, _ in received)
    first_seen: dict[tuple[str, str], float] = {}
    for w, e, at in received:
        first_seen.setdefault((w, e), at)
    latencies = sorted(
        int((at - committed[e.split("|order:")[1]]) * 1e9) for (w, e), at in first_seen.items()
    )
    feed_lags = sorted(int((made - occurred).total_seconds() * 1e9) for made, occurred in lags)

    def ms(values: list[int], p: float) -> float:
        return round(percentile(values, p) / 1e6, 1) if values else 0.0

    return PartnerFeedRun(
        backend="sqlite" if settings.is_sqlite else "postgresql",
        orders=len(committed),
        orders_per_second=round(len(committed) / produced_for, 1),
        deliveries_expected=expected,
        events_received=len(first_seen),
        missing=expected - len(first_seen),
        duplicates=sum(c - 1 for c in counts.values()),
        commit_to_delivery_p50_ms=ms(latencies, 50),
        commit_to_delivery_p99_ms=ms(latencies, 99),
        commit_to_delivery_max_ms=round(latencies[-1] / 1e6, 1) if latencies else 0.0,
        feed_lag_p50_ms=ms(feed_lags, 50),
        feed_lag_p99_ms=ms(feed_lags, 99),
        drained_seconds=round(drained, 2),
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rate", type=int, default=500, help="orders a second")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument(
        "--database-url", default=None, help="PostgreSQL URL (a scratch database); default SQLite"
    )
    args = parser.parse_args(argv)
    data_dir = Path(tempfile.mkdtemp(prefix="fp-bench-partners-"))
    settings = Settings(env="test", data_dir=data_dir, database_url=args.database_url)
    migrate.upgrade(settings)
    print(json.dumps(asdict(asyncio.run(run(settings, rate=args.rate, seconds=args.seconds))), indent=2))


if __name__ == "__main__":
    main()
