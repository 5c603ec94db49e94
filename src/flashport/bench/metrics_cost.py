"""What the metrics cost one purchase in CPU, measured in one process and apart from any load:
``python -m flashport.bench.metrics_cost [--purchases N] [--batch B]``.

It makes the observations the buy path makes for one purchase that creates an order (the buy edge's
request count and duration, the stock engine's placement and outcome, and a share of one reservation
script call and one group commit of ``B`` purchases each), in the mode ``serve --workers N`` runs them
(counters in memory-mapped files of a fresh ``PROMETHEUS_MULTIPROC_DIR``), with metrics on and off, and
prints the CPU microseconds per purchase of each. Divide the difference by the API's CPU per order in
the record benchmark (its processes' CPU seconds over the orders made) for the instrumentation's share
of the throughput a CPU-bound server gives up.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time

BUY_ROUTE = "/api/v1/sale-items/{item_id}/buy"  # as api/observability.py labels it


FLUSH_EVERY = 1_000  # purchases between two write-outs: half a second of one process at 2,000 orders/s


async def _per_purchase(purchases: int, batch: int) -> float:
    """CPU seconds per purchase of the buy path's observations, as they stand (on or off), written out
    every FLUSH_EVERY purchases as the running loop's timer would."""
    from flashport.adapters import metrics

    flush = getattr(metrics, "flush", lambda: None)  # main before the tally wrote every observation out
    started = time.process_time()
    for n in range(purchases):
        metrics.observe_placement("redis", "created", 0.004)
        metrics.observe_request(BUY_ROUTE, "POST", 201, 0.006)
        if n % batch == 0:
            metrics.observe_reserve_batch(batch)
            metrics.observe_group_commit("orders", batch, 0.003)
        if n % FLUSH_EVERY == 0:
            flush()
    flush()
    return (time.process_time() - started) / purchases


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--purchases", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=50, help="purchases per reservation call and commit")
    parser.add_argument("--rounds", type=int, default=3, help="on/off alternations; the best of each kept")
    args = parser.parse_args()
    # Before prometheus_client is imported: it picks its value class (mmap files or memory) at import.
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="fp-metrics-cost-")
    from flashport.adapters import metrics

    asyncio.run(_per_purchase(1_000, args.batch))  # every label set created once, as in a server
    best = {True: float("inf"), False: float("inf")}
    for _ in range(args.rounds):
        for side in (True, False):
            metrics.configure(side)
            best[side] = min(best[side], asyncio.run(_per_purchase(args.purchases, args.batch)))
    with_metrics, without = best[True] * 1e6, best[False] * 1e6
    print(f"metrics on:  {with_metrics:6.2f} us of CPU per purchase")
    print(f"metrics off: {without:6.2f} us of CPU per purchase")
    print(f"instrumentation: {with_metrics - without:6.2f} us per purchase")


if __name__ == "__main__":
    main()
