"""The figures of a pipeline run, computed from the stage events and the CPU readings, and how they are
shown and saved. Pure: no database, no processes.

The clock's zero is the earlier of the first payment settled and the workers' start, so every time is
positive. The issue's figure is "from the workers' start to the last order shipped"; the target's is
"from the last payment to the last parcel shipped". Both are given.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from flashport.bench.pipeline_audit import AuditCheck
from flashport.bench.pipeline_db import STAGES, StageEvent
from flashport.bench.report import Latency

CHART_POINTS = 400  # per stage: enough for a smooth line, small enough for 100,000 orders


@dataclass(frozen=True)
class StageFigures:
    stage: str
    orders: int  # orders that reached it
    first_s: float | None  # seconds since the clock's zero
    last_s: float | None
    per_s: float | None  # orders over the stage's own span (first to last); None for fewer than two

    @classmethod
    def of(cls, stage: str, seconds: Sequence[float]) -> StageFigures:
        if not seconds:
            return cls(stage, 0, None, None, None)
        first, last = min(seconds), max(seconds)
        rate = len(seconds) / (last - first) if last > first else None
        return cls(stage, len(seconds), first, last, rate)


@dataclass(frozen=True)
class ProcessCpu:
    name: str
    cpu_s: float
    ms_per_order: float


@dataclass(frozen=True)
class PipelineFigures:
    orders: int
    workers: int
    mode: str  # "backlog": workers start once every order is paid; "live": before the first payment
    zero: datetime
    workers_started_s: float
    last_paid_s: float | None
    last_shipped_s: float | None
    workers_to_shipped_s: float | None  # the figure
    last_paid_to_shipped_s: float | None  # the target's figure
    stages: list[StageFigures]
    paid_to_released: Latency
    paid_to_shipped: Latency

    @property
    def shipped(self) -> int:
        return next(s.orders for s in self.stages if s.stage == "shipped")

    @property
    def orders_per_s(self) -> float | None:
        """Shipped orders over the time from the workers' start to the last shipment."""
        span = self.workers_to_shipped_s
        return self.shipped / span if span else None


def first_times(events: Sequence[StageEvent]) -> dict[str, dict[str, datetime]]:
    """Stage -> order -> when it first reached that stage (a repeated event does not move it)."""
    times: dict[str, dict[str, datetime]] = defaultdict(dict)
    for event in events:
        known = times[event.stage].get(event.order_no)
        if known is None or event.at < known:
            times[event.stage][event.order_no] = event.at
    return times


def figures(
    events: Sequence[StageEvent], *, orders: int, workers: int, mode: str, workers_started: datetime
) -> PipelineFigures:
    times = first_times(events)
    paid = times.get("paid", {})
    zero = min([workers_started, *paid.values()])

    def since(moment: datetime) -> float:
        return (moment - zero).total_seconds()

    stages = [StageFigures.of(s, [since(t) for t in times.get(s, {}).values()]) for s in STAGES]
    by_stage = {s.stage: s for s in stages}
    last_paid, last_shipped = by_stage["paid"].last_s, by_stage["shipped"].last_s
    started = since(workers_started)
    return PipelineFigures(
        orders=orders,
        workers=workers,
        mode=mode,
        zero=zero,
        workers_started_s=started,
        last_paid_s=last_paid,
        last_shipped_s=last_shipped,
        workers_to_shipped_s=None if last_shipped is None else last_shipped - started,
        last_paid_to_shipped_s=None
        if last_shipped is None or last_paid is None
        else last_shipped - last_paid,
        stages=stages,
        paid_to_released=_latency(paid, times.get("released", {})),
        paid_to_shipped=_latency(paid, times.get("shipped", {})),
    )


def _latency(start: Mapping[str, datetime], end: Mapping[str, datetime]) -> Latency:
    """From each order's start to its end, for the orders that have both."""
    return Latency.of(
        round((end[order] - start[order]).total_seconds() * 1e9) for order in end.keys() & start.keys()
    )


def cpu_per_order(before: Mapping[str, float], after: Mapping[str, float], orders: int) -> list[ProcessCpu]:
    """CPU each process spent between two readings, per order, then the total. A process missing before
    started in between (at zero); processes named ``group:id`` (PostgreSQL backends) count as their
    group; a process gone by the second reading is not counted."""
    used: dict[str, float] = {}
    for name, seconds in after.items():
        group = name.split(":", 1)[0]
        used[group] = used.get(group, 0.0) + seconds - before.get(name, 0.0)
    used["all processes"] = sum(used.values())
    return [
        ProcessCpu(name, seconds, 1000 * seconds / orders if orders else 0.0)
        for name, seconds in used.items()
    ]


def stage_series(
    events: Sequence[StageEvent], zero: datetime, points: int = CHART_POINTS
) -> dict[str, list[tuple[float, int]]]:
    """Orders that reached each stage, cumulative, at up to ``points`` evenly spaced moments."""
    times = first_times(events)
    seconds = {s: sorted((t - zero).total_seconds() for t in times.get(s, {}).values()) for s in STAGES}
    end = max((v[-1] for v in seconds.values() if v), default=0.0)
    step = max(end / points, 0.05)
    moments = [i * step for i in range(math.ceil(end / step) + 1)]
    series: dict[str, list[tuple[float, int]]] = {}
    for stage, values in seconds.items():
        series[stage] = _cumulative(values, moments) if values else []
    return series


def _cumulative(sorted_values: Sequence[float], moments: Sequence[float]) -> list[tuple[float, int]]:
    counted, i = [], 0
    for moment in moments:
        while i < len(sorted_values) and sorted_values[i] <= moment:
            i += 1
        counted.append((round(moment, 3), i))
    if counted and counted[-1][1] < len(sorted_values):  # the last event falls between two moments
        counted.append((round(sorted_values[-1], 3), len(sorted_values)))
    return counted


def summary_lines(run: PipelineFigures) -> list[tuple[str, str]]:
    def secs(value: float | None) -> str:
        return "-" if value is None else f"{value:.1f} s"

    rate = run.orders_per_s
    lines = [
        ("orders shipped", f"{run.shipped:,} of {run.orders:,}"),
        ("workers' start to last shipped", f"{secs(run.workers_to_shipped_s)}"),
        ("orders/s (workers' start to last shipped)", "-" if rate is None else f"{rate:,.1f}"),
        ("last payment to last shipped", secs(run.last_paid_to_shipped_s)),
        ("paid -> released p50 / p95 / p99", _latency_text(run.paid_to_released)),
        ("paid -> shipped p50 / p95 / p99", _latency_text(run.paid_to_shipped)),
    ]
    return lines


def _latency_text(latency: Latency) -> str:
    return f"{latency.p50_ms / 1000:.2f} / {latency.p95_ms / 1000:.2f} / {latency.p99_ms / 1000:.2f} s"


def stage_lines(run: PipelineFigures) -> list[tuple[str, str]]:
    lines = []
    for s in run.stages:
        if s.first_s is None or s.last_s is None:
            lines.append((s.stage, "none"))
            continue
        rate = "-" if s.per_s is None else f"{s.per_s:,.1f}/s"
        lines.append((s.stage, f"{s.orders:,} orders, {s.first_s:.1f}-{s.last_s:.1f} s, {rate}"))
    return lines


def cpu_lines(cpu: Sequence[ProcessCpu]) -> list[tuple[str, str]]:
    return [(c.name, f"{c.cpu_s:.2f} s, {c.ms_per_order:.2f} ms per order") for c in cpu]


def audit_lines(checks: Sequence[AuditCheck]) -> list[tuple[str, str]]:
    return [
        (c.name, "ok" if c.passed else f"FAILED for {c.failed:,}: {', '.join(c.examples)}") for c in checks
    ]


def as_json(
    run: PipelineFigures,
    *,
    settings: Mapping[str, Any],
    checks: Sequence[AuditCheck],
    cpu: Mapping[str, Sequence[ProcessCpu]],
    series: Mapping[str, Sequence[tuple[float, int]]],
    seconds: Mapping[str, float],
) -> dict[str, Any]:
    """The whole run as one JSON document (datetimes as ISO 8601)."""
    figures = asdict(run) | {"zero": run.zero.isoformat(), "shipped": run.shipped}
    return {
        "run": dict(settings),
        "phase_seconds": dict(seconds),
        "figures": figures | {"orders_per_s": run.orders_per_s},
        "cpu": {phase: [asdict(c) for c in rows] for phase, rows in cpu.items()},
        "audit": [asdict(c) | {"passed": c.passed} for c in checks],
        "audit_passed": all(c.passed for c in checks),
        "orders_per_stage": {stage: [list(p) for p in points] for stage, points in series.items()},
    }
