"""The payment window closing on a sold-out sale: how fast unpaid orders expire and their units return.

Twenty minutes after a record rush, every order nobody paid comes due within about a minute, and the
units should be back on sale about as fast as they went. This measures the worker's sweep
(:func:`flashport.services.orders.lifecycle.expire_unpaid_orders`) on the platform's real database and stock
engine, in this process, with no HTTP in between:

1. a sale of N units and N buyers (bench/setup.py), and one order per buyer placed through the buy path
   (:func:`flashport.services.sales.buying.buy`) with a payment window of a few seconds;
2. once every deadline has passed, S sweepers (the worker's job, each on its own context as separate
   worker processes would be) expire everything that is due, and the clock runs until the last one
   returned;
3. the audit: every order of the sale expired with exactly one ``order.expired`` event, and the stock
   engine holds none of the sale's units any more.

Only orders that are really due are expired, as the worker would; nothing is backdated.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from flashport.adapters.db.schema import orders, outbox
from flashport.bench.setup import prepare_sale
from flashport.bootstrap import build_context, close_context
from flashport.services.context import Context
from flashport.services.orders import lifecycle as order_service
from flashport.services.sales import buying
from flashport.settings import Settings

PLACING_CONCURRENCY = 1_000  # purchases in flight while the orders are placed


@dataclass(frozen=True)
class ExpiryRun:
    units: int
    sweepers: int
    placing_s: float
    sweeping_s: float
    sweeper_cpu_s: float  # this process's CPU during the sweep (all sweepers share it)
    expired: int
    not_expired: int  # orders of the sale still pending (or otherwise not expired) afterwards
    events_missing: int  # expired orders without an order.expired event
    events_duplicated: int  # orders with more than one
    units_still_taken: int  # what the stock engine still holds for the sale

    @property
    def expired_per_s(self) -> float:
        return self.expired / self.sweeping_s if self.sweeping_s > 0 else 0.0

    @property
    def passed(self) -> bool:
        return (  # the sweep may also expire other orders that were due in this database
            self.expired >= self.units
            and self.not_expired == 0
            and self.events_missing == 0
            and self.events_duplicated == 0
            and self.units_still_taken == 0
        )


async def run(settings: Settings, *, units: int, sweepers: int, window_seconds: int) -> ExpiryRun:
    settings = settings.model_copy(update={"payment_window_seconds": window_seconds})
    ctx = await build_context(settings, listen_for_restock=False)
    others = [await build_context(settings, listen_for_restock=False) for _ in range(sweepers - 1)]
    try:
        sale = await prepare_sale(ctx, units=units, buyers=units, run_id=f"exp{int(time.time())}")
        started = time.perf_counter()
        last_deadline = await _place_orders(ctx, sale.item_id, sale.buyer_ids, sale.run_id)
        placing_s = time.perf_counter() - started
        await asyncio.sleep(max(0.0, (last_deadline - ctx.clock()).total_seconds()) + 0.05)
        await _refresh_statistics(ctx)
        cpu, started = time.process_time(), time.perf_counter()
        expired = sum(await asyncio.gather(*(_sweep(c) for c in (ctx, *others))))
        sweeping_s, cpu = time.perf_counter() - started, time.process_time() - cpu
        return ExpiryRun(
            units, sweepers, placing_s, sweeping_s, cpu, expired, **await _audit(ctx, sale.item_id)
        )
    finally:
        for other in others:
            await close_context(other)
        await close_context(ctx)


async def _place_orders(ctx: Context, item_id: int, buyer_ids: list[int], run_id: str) -> Any:
    """One unit per buyer through the buy path; returns the latest payment deadline."""
    last = ctx.clock()
    for first in range(0, len(buyer_ids), PLACING_CONCURRENCY):
        chunk = buyer_ids[first : first + PLACING_CONCURRENCY]
        placed = await asyncio.gather(
            *(buying.buy(ctx, b, item_id, 1, f"exp-{run_id}-{first + n}") for n, b in enumerate(chunk))
        )
        last = max(last, *(purchase.order["payment_deadline"] for purchase in placed))
    return last


async def _refresh_statistics(ctx: Context) -> None:
    """What autovacuum does in the twenty minutes before a real window closes: without fresh statistics
    PostgreSQL takes the freshly written orders for a handful and plans the sweep's ``ORDER BY
    payment_deadline LIMIT`` as a sort of every due order instead of a walk along the index. (Test
    servers often run with autovacuum off.) SQLite plans by the index either way."""
    if ctx.engine.dialect.name == "postgresql":
        async with ctx.engine.connect() as conn:
            await conn.execute(sa.text("ANALYZE orders"))
            await conn.commit()


async def _sweep(ctx: Context) -> int:
    """Sweep as the worker does, pass after pass, until a pass finds nothing due."""
    expired = 0
    while moved := await order_service.expire_unpaid_orders(ctx):
        expired += moved
    return expired


async def _audit(ctx: Context, item_id: int) -> dict[str, int]:
    expired_event = sa.and_(
        outbox.c.type == "order.expired", outbox.c.subject == "order:" + orders.c.order_no
    )
    async with ctx.read() as conn:
        not_expired = await conn.scalar(
            sa.select(sa.func.count()).where(orders.c.sale_item_id == item_id, orders.c.status != "expired")
        )
        per_order = (
            sa.select(sa.func.count(outbox.c.id).label("events"))
            .select_from(orders.outerjoin(outbox, expired_event))
            .where(orders.c.sale_item_id == item_id, orders.c.status == "expired")
            .group_by(orders.c.id)
            .subquery()
        )
        missing, duplicated = (
            await conn.execute(
                sa.select(
                    sa.func.count().filter(per_order.c.events == 0),
                    sa.func.count().filter(per_order.c.events > 1),
                )
            )
        ).one()
    counters = await ctx.stock.read_counters(item_id)
    return {
        "not_expired": int(not_expired or 0),
        "events_missing": int(missing),
        "events_duplicated": int(duplicated),
        "units_still_taken": counters.taken if counters is not None else 0,
    }
