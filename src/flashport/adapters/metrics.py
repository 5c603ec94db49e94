"""Prometheus metrics: what the platform measures, in one place, and how /metrics renders them.

Several API processes (``flashport serve --workers N``) share one directory of memory-mapped files named by
``PROMETHEUS_MULTIPROC_DIR`` (``serve`` makes it fresh at start); /metrics then sums every process's
counters and histograms. Without that variable the metrics live in this process's memory. ``enabled``
turns every observation into a no-op (``FLASHPORT_METRICS=false``: the benchmark's "off" side).
"""

from __future__ import annotations

import os

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


def configure(enabled: bool) -> None:
    """Turn observations on or off for this process (read from settings by the app and the worker)."""
    switch.on = enabled


def observe_request(route: str, method: str, status: int, seconds: float) -> None:
    if switch.on:
        HTTP_REQUESTS.labels(route, method, str(status)).inc()
        HTTP_SECONDS.labels(route, method).observe(seconds)


def observe_placement(engine: str, outcome: str, seconds: float) -> None:
    if switch.on:
        STOCK_PLACE_SECONDS.labels(engine).observe(seconds)
        PURCHASES.labels(outcome).inc()
        if outcome == "created":
            ORDERS_CREATED.inc()


def observe_refusal(outcome: str) -> None:
    """A purchase refused before the stock engine (sold-out board, window, limits)."""
    if switch.on:
        PURCHASES.labels(outcome).inc()


def observe_group_commit(committer: str, size: int, seconds: float) -> None:
    if switch.on:
        GROUP_COMMIT_SECONDS.labels(committer).observe(seconds)
        GROUP_COMMIT_BATCH.labels(committer).observe(size)


def observe_reserve_batch(size: int) -> None:
    if switch.on:
        STOCK_RESERVE_BATCH.observe(size)


def observe_stage(stage: str, done: int, seconds: float) -> None:
    if switch.on:
        STAGE_ITEMS.labels(stage).inc(done)
        STAGE_SECONDS.labels(stage).observe(seconds)


def observe_stage_failure(stage: str) -> None:
    if switch.on:
        STAGE_FAILURES.labels(stage).inc()


def render_processes() -> bytes:
    """Every process's metrics in the text exposition format: summed from the shared directory when
    this process counts into one, else this process's own. The variable alone does not tell: with
    ``serve --workers 1`` the one process had imported prometheus_client (through the command line)
    before ``serve`` set it, so its counts stay in memory, and the empty directory showed none."""
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
