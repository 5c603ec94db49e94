"""The partner feed bench's orders: bought through the buy path, then paid and declared, tick by tick,
in this process or split over several (``--buyer-processes``): one process's buy path (its event loop,
the group commit, the stock engine's client) tops out below a thousand orders a second on a busy
two-core machine, and the bench then measures its own limit rather than the feed's.

Each process buys its own share of the buyers, the same number of ticks at the same wall-clock
moments, with its own context, and returns when each of its orders' commits was answered."""

from __future__ import annotations

import asyncio
import multiprocessing
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

from flashport.adapters.db.schema import declarations, orders, payments
from flashport.bootstrap import build_context, close_context
from flashport.services.context import Context
from flashport.services.sales import buying
from flashport.settings import Settings

TICK_SECONDS = 0.05
START_MARGIN_SECONDS = 8.0  # for the buying processes to start and connect before the first tick

Committed = dict[tuple[str, str], float]  # (order number, "buy" or "pay") -> when its commit was answered


@dataclass(frozen=True)
class Share:
    settings: Settings
    item_id: int
    buyer_ids: list[int]  # per_tick of them each tick
    ticks: int
    per_tick: int


def shares(
    settings: Settings, item_id: int, buyer_ids: list[int], ticks: int, per_tick: int, processes: int
) -> list[Share]:
    """Each tick's buyers dealt out over ``processes`` (each gets its part of every tick)."""
    processes = max(1, min(processes, per_tick))
    parts: list[list[int]] = [[] for _ in range(processes)]
    sizes = [per_tick // processes + (1 if k < per_tick % processes else 0) for k in range(processes)]
    for n in range(ticks):
        tick = buyer_ids[n * per_tick : (n + 1) * per_tick]
        at = 0
        for k, size in enumerate(sizes):
            parts[k] += tick[at : at + size]
            at += size
    return [Share(settings, item_id, part, ticks, size) for part, size in zip(parts, sizes, strict=True)]


async def produce(ctx: Context, every: list[Share]) -> tuple[Committed, float]:
    """Every share's orders, the one in this process (on ``ctx``), several in processes of their own;
    returns their commits and how long producing them took."""
    if len(every) == 1:
        started = time.time()
        return await _produce(ctx, every[0], started), time.time() - started
    start_at = time.time() + START_MARGIN_SECONDS
    loop = asyncio.get_running_loop()
    with ProcessPoolExecutor(len(every), mp_context=multiprocessing.get_context("spawn")) as pool:
        done = await asyncio.gather(*(loop.run_in_executor(pool, _in_process, s, start_at) for s in every))
    committed: Committed = {}
    for part, _ in done:
        committed |= part
    return committed, max(ended for _, ended in done) - start_at


def _in_process(share: Share, start_at: float) -> tuple[Committed, float]:
    return asyncio.run(_own_context(share, start_at))


async def _own_context(share: Share, start_at: float) -> tuple[Committed, float]:
    ctx = await build_context(share.settings, listen_for_restock=False)
    try:
        if time.time() > start_at:
            raise RuntimeError("a buying process started after the first tick: raise START_MARGIN_SECONDS")
        await asyncio.sleep(start_at - time.time())
        return await _produce(ctx, share, start_at), time.time()
    finally:
        await close_context(ctx)


async def _produce(ctx: Context, share: Share, start_at: float) -> Committed:
    committed: Committed = {}
    for n in range(share.ticks):
        tick = share.buyer_ids[n * share.per_tick : (n + 1) * share.per_tick]
        bought = await _buy(ctx, share.item_id, tick)
        for _, no, at in bought:
            committed[(no, "buy")] = at
        paid_at = await _pay_and_declare(ctx, bought)
        for _, no, _ in bought:
            committed[(no, "pay")] = paid_at
        await asyncio.sleep(max(0.0, start_at + (n + 1) * TICK_SECONDS - time.time()))
    return committed


async def _buy(ctx: Context, item_id: int, buyer_ids: list[int]) -> list[tuple[str, str, float]]:
    """Each buyer buys one unit through the buy path, all at once (the group commit batches them);
    returns (order id, order number, when its commit was answered)."""

    async def one(buyer_id: int) -> tuple[str, str, float]:
        purchase = await buying.buy(ctx, buyer_id, item_id, 1, uuid.uuid4().hex)
        return purchase.order["id"], purchase.order["order_no"], time.time()

    return list(await asyncio.gather(*(one(b) for b in buyer_ids)))


async def _pay_and_declare(ctx: Context, bought: list[tuple[str, str, float]]) -> float:
    """The rows and records settlement and declaring write for these orders, in one transaction;
    returns when it committed."""
    async with ctx.transaction() as tx:
        now = tx.now
        ids = [i for i, _, _ in bought]
        await tx.conn.execute(orders.update().where(orders.c.id.in_(ids)).values(status="paid", paid_at=now))
        await tx.conn.execute(
            payments.insert(),
            [
                {
                    "order_id": i,
                    "order_no": no,
                    "attempt": 1,
                    "provider": "benchpay",
                    "out_trade_no": f"T{no}",
                    "amount_fen": 9900,
                    "status": "succeeded",
                    "created_at": now,
                    "updated_at": now,
                }
                for i, no, _ in bought
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
                    "cop_no": f"C{no[-19:]}",
                    "logistics_code": "BENCHLC",
                    "logistics_no": f"W{no}",
                    "next_attempt_at": now,
                    "created_at": now,
                    "updated_at": now,
                }
                for i, no, _ in bought
            ],
        )
        records: list[tuple[str, str, dict[str, Any]]] = []
        for _, no, _ in bought:
            records += [
                ("payment.succeeded", f"order:{no}", {"order_no": no, "amount": "99.00"}),
                ("declaration.declared", f"order:{no}", {"order_no": no, "logistics_no": f"W{no}"}),
            ]
        await tx.emit_many(records)
    return time.time()
