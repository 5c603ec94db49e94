"""Prometheus metrics: what the platform measures, in one place, and how /metrics renders them.

Several API processes (``flashport serve --workers N``) share one directory of memory-mapped files named by
``PROMETHEUS_MULTIPROC_DIR`` (``serve`` makes it fresh at start); /metrics then sums every process's
counters and histograms. Without that variable the metrics live in this process's memory. ``enabled``
turns every observation into a no-op (``FLASHPORT_METRICS=false``: the benchmark's "off" side).

**Cost.** Writing an observation to the shared files takes a lock, a pid check and a write into the
mapped file per value: about 17 us of CPU for the seven values one purchase moves (``python -m
flashport.bench.metrics_cost``), near a tenth of what the API spends on the whole purchase. So an
observation is added to this process's tally (a dict keyed by the value to move) and the tally is
written out at most :data:`FLUSH_SECONDS` later, once for all the purchases of that span, by a timer
on the running loop, and at once before this process renders a scrape. A scrape can therefore miss up
to :data:`FLUSH_SECONDS` of the other processes' latest observations (they show at the next one), and a
process killed with ``kill -9`` loses at most that much of its own.
"""

from __future__ import annotations

import asyncio
import bisect
import logging
import os
import time
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
    values,
)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# Each process's metric files, allocated on disk before prometheus_client maps them: 16 times its own
# first size, room for thousands of label sets.
PREALLOCATED_BYTES = 1 << 20
FILE_KINDS = ("counter", "histogram", "gauge_all")  # prometheus_client's file name prefixes we use


def preallocate_files(directory: str | None = None, pid: int | None = None) -> None:
    """Give this process's metric files their disk blocks now, while there is room.

    prometheus_client makes each file by extending it (``truncate``), which allocates nothing, and maps
    it into memory; the disk blocks are taken only when a page is first written, which happens when a
    new label set first appears (a route answering a status it had not answered before). With the disk
    full at that moment, as it is when a database has filled it, the kernel has no block to give and kills
    the process with SIGBUS: the chaos case "the data disk full" lost the API that way. Blocks allocated
    here (``posix_fallocate``) are real, and prometheus_client takes the file's size as its capacity.
    A process started on a full disk goes on without (the files are then made as before). Called at
    import, before the module's own metrics make their files; the API's processes are each a fresh
    interpreter (uvicorn spawns them), so each allocates its own."""
    directory = directory if directory is not None else os.environ.get(MULTIPROC_ENV)
    if not directory:
        return
    pid = pid if pid is not None else os.getpid()
    for kind in FILE_KINDS:
        try:
            fd = os.open(os.path.join(directory, f"{kind}_{pid}.db"), os.O_RDWR | os.O_CREAT, 0o644)
        except OSError:
            continue  # no directory (yet) or no room: prometheus_client reports it when it writes
        try:
            if os.fstat(fd).st_size < PREALLOCATED_BYTES:
                os.posix_fallocate(fd, 0, PREALLOCATED_BYTES)
        except OSError:
            logging.getLogger(__name__).warning("metric file %s_%d.db not allocated (disk full?)", kind, pid)
        finally:
            os.close(fd)


preallocate_files()
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
BATCH_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000)

HTTP_REQUESTS = Counter(
    "flashport_http_requests_total",
    "HTTP answers, by route template, method and status",
    ["route", "method", "status"],
)
HTTP_SECONDS = Histogram(
    "flashport_http_request_duration_seconds",
    "Time from the request to its answer, by route template and method",
    ["route", "method"],
    buckets=LATENCY_BUCKETS,
)
ORDERS_CREATED = Counter(
    "flashport_orders_created_total", "Orders the buy path created (durable when counted)"
)
PURCHASES = Counter("flashport_purchases_total", "Purchase attempts by outcome", ["outcome"])
STOCK_PLACE_SECONDS = Histogram(
    "flashport_stock_place_seconds",
    "One purchase in the stock engine: reserve, then the order row written (group commit included)",
    ["engine"],
    buckets=LATENCY_BUCKETS,
)
GROUP_COMMIT_SECONDS = Histogram(
    "flashport_group_commit_seconds", "One group commit's transaction", ["committer"], buckets=LATENCY_BUCKETS
)
GROUP_COMMIT_BATCH = Histogram(
    "flashport_group_commit_batch_size", "Items per group commit", ["committer"], buckets=BATCH_BUCKETS
)
STOCK_RESERVE_BATCH = Histogram(
    "flashport_stock_reserve_batch_size",
    "Purchases per reservation script call (Redis engine)",
    buckets=BATCH_BUCKETS,
)
STAGE_ITEMS = Counter("flashport_worker_stage_items_total", "Items a worker stage handled", ["stage"])
STAGE_SECONDS = Histogram(
    "flashport_worker_stage_seconds", "One batch of a worker stage", ["stage"], buckets=LATENCY_BUCKETS
)
STAGE_FAILURES = Counter(
    "flashport_worker_stage_failures_total", "Failed batches of a worker stage", ["stage"]
)


class _Switch:
    on = True


switch = _Switch()
FLUSH_SECONDS = 0.5


class _Tally:
    """This process's observations not yet written out: amount to add, by prometheus_client value
    object (a labelled counter's value, or a histogram child's bucket and sum). Reaches into
    prometheus_client's children (``_value``, ``_buckets``, ``_sum``, ``_upper_bounds``), which have
    kept these names for years; tests/unit/test_metrics_tally.py reads the rendered text back, so a
    release that renames them fails there."""

    def __init__(self) -> None:
        self.pending: dict[Any, float] = {}
        self.due_at = 0.0  # when the scheduled write-out runs; 0: none scheduled
        self.counters: dict[tuple[Any, ...], Any] = {}
        self.histograms: dict[tuple[Any, ...], tuple[Any, Any, Any]] = {}

    def add(self, value: Any, amount: float) -> None:
        pending = self.pending
        pending[value] = pending.get(value, 0.0) + amount
        if self.due_at == 0.0 or self.due_at < time.monotonic() - FLUSH_SECONDS:  # none, or its loop gone
            self._schedule()

    def _schedule(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop to wait on (a script, a thread): write out now
            self.flush()
            return
        self.due_at = time.monotonic() + FLUSH_SECONDS
        loop.call_later(FLUSH_SECONDS, self.flush)

    def flush(self) -> None:
        self.due_at = 0.0
        pending, self.pending = self.pending, {}
        for value, amount in pending.items():
            value.inc(amount)

    def counter(self, metric: Counter, *labels: str) -> Any:
        found = self.counters.get((metric, *labels))
        if found is None:
            child = metric.labels(*labels) if labels else metric
            found = self.counters[(metric, *labels)] = child._value
        return found

    def observe(self, metric: Histogram, amount: float, *labels: str) -> None:
        found = self.histograms.get((metric, *labels))
        if found is None:
            child = metric.labels(*labels) if labels else metric
            found = self.histograms[(metric, *labels)] = (child._upper_bounds, child._buckets, child._sum)
        bounds, buckets, total = found
        self.add(total, amount)
        self.add(buckets[bisect.bisect_left(bounds, amount)], 1.0)  # the first bound >= amount


tally = _Tally()


def configure(enabled: bool) -> None:
    """Turn observations on or off for this process (read from settings by the app and the worker)."""
    switch.on = enabled


def flush() -> None:
    """Write this process's pending observations out now (before a scrape, and at a worker's stop)."""
    tally.flush()


def observe_request(route: str, method: str, status: int, seconds: float) -> None:
    if switch.on:
        tally.add(tally.counter(HTTP_REQUESTS, route, method, str(status)), 1.0)
        tally.observe(HTTP_SECONDS, seconds, route, method)


def observe_placement(engine: str, outcome: str, seconds: float) -> None:
    if switch.on:
        tally.observe(STOCK_PLACE_SECONDS, seconds, engine)
        tally.add(tally.counter(PURCHASES, outcome), 1.0)
        if outcome == "created":
            tally.add(tally.counter(ORDERS_CREATED), 1.0)


def observe_refusal(outcome: str) -> None:
    """A purchase refused before the stock engine (sold-out board, window, limits)."""
    if switch.on:
        tally.add(tally.counter(PURCHASES, outcome), 1.0)


def observe_group_commit(committer: str, size: int, seconds: float) -> None:
    if switch.on:
        tally.observe(GROUP_COMMIT_SECONDS, seconds, committer)
        tally.observe(GROUP_COMMIT_BATCH, size, committer)


def observe_reserve_batch(size: int) -> None:
    if switch.on:
        tally.observe(STOCK_RESERVE_BATCH, size)


def observe_stage(stage: str, done: int, seconds: float) -> None:
    if switch.on:
        tally.add(tally.counter(STAGE_ITEMS, stage), done)
        tally.observe(STAGE_SECONDS, seconds, stage)


def observe_stage_failure(stage: str) -> None:
    if switch.on:
        tally.add(tally.counter(STAGE_FAILURES, stage), 1.0)


def render_processes() -> bytes:
    """Every process's metrics in the text exposition format: summed from the shared directory when
    this process counts into one, else this process's own. The variable alone does not tell: with
    ``serve --workers 1`` the one process had imported prometheus_client (through the command line)
    before ``serve`` set it, so its counts stay in memory, and the empty directory showed none."""
    tally.flush()
    if os.environ.get(MULTIPROC_ENV) and values.ValueClass is not values.MutexValue:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry)
    from prometheus_client import REGISTRY

    return generate_latest(REGISTRY)


def render_backlog(depths: dict[str, int], lags: dict[str, float]) -> bytes:
    """The worker stages' queue depths and the partner lags, measured now (from the database, so they do
    not depend on which process answers the scrape or where the workers run)."""
    registry = CollectorRegistry()
    depth = Gauge(
        "flashport_worker_queue_depth", "Rows waiting for each worker stage", ["stage"], registry=registry
    )
    lag = Gauge(
        "flashport_partner_lag_seconds",
        "Age of the oldest event not yet relayed to partners, or webhook not yet delivered",
        ["kind"],
        registry=registry,
    )
    for stage, count in depths.items():
        depth.labels(stage).set(count)
    for kind, seconds in lags.items():
        lag.labels(kind).set(seconds)
    return generate_latest(registry)
