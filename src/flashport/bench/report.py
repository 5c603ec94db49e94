"""What a run measured, what the database says, whether the targets were met, and how that is shown.

Latencies and rates are floats: they are measurements, not money. Percentiles use the nearest-rank
method, so every reported latency is one a real request had.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TextIO

import orjson
import sqlalchemy as sa

from flashport.adapters.db.schema import orders, sale_items
from flashport.bench.loadgen import Firing
from flashport.services.context import Context

TARGET_SELL_OUT_S = 75.0
TARGET_ORDERS_PER_S = 8_000.0
TARGET_P99_MS = 100.0
LIVE_ORDER_STATUSES = ("pending_payment", "paid")


def percentile(sorted_values: Sequence[int], percent: float) -> int:
    """Nearest rank: the smallest value with at least ``percent``% of the values at or below it."""
    if not sorted_values:
        return 0
    rank = math.ceil(percent / 100 * len(sorted_values))
    return sorted_values[min(len(sorted_values), max(rank, 1)) - 1]


@dataclass(frozen=True)
class Latency:
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float

    @classmethod
    def of(cls, values_ns: Iterable[int]) -> Latency:
        ordered = sorted(values_ns)
        p50, p95, p99 = (percentile(ordered, p) / 1e6 for p in (50, 95, 99))
        return cls(p50, p95, p99, (ordered[-1] if ordered else 0) / 1e6)


@dataclass(frozen=True)
class RunSummary:
    attempts: int
    created: int  # 201 answers: one order of one unit each
    duration_s: float  # first request sent to last answer received
    selling_s: float | None  # first request sent to last 201 received; None when nothing was sold
    sold_out: bool
    attempts_per_s: float
    orders_per_s: float  # created over selling_s
    latency: Latency
    outcomes: dict[str, int]
    generator_cpu_s: float

    @property
    def generator_busy(self) -> float:
        """Share of one core the generator used; well under 1.0 means it was not the bottleneck."""
        return self.generator_cpu_s / self.duration_s if self.duration_s else 0.0


def summarise(firing: Firing, *, units: int | None = None) -> RunSummary:
    attempts = len(firing.status)
    if attempts == 0:
        return RunSummary(0, 0, 0.0, None, False, 0.0, 0.0, Latency.of([]), {}, firing.cpu_seconds)
    first_sent = min(f - lat for f, lat in zip(firing.finished_ns, firing.latency_ns, strict=True))
    duration_s = (max(firing.finished_ns) - first_sent) / 1e9
    created_at = [f for f, s in zip(firing.finished_ns, firing.status, strict=True) if s == 201]
    selling_s = (max(created_at) - first_sent) / 1e9 if created_at else None
    return RunSummary(
        attempts=attempts,
        created=len(created_at),
        duration_s=duration_s,
        selling_s=selling_s,
        sold_out=units is not None and len(created_at) >= units,
        attempts_per_s=attempts / duration_s if duration_s else 0.0,
        orders_per_s=len(created_at) / selling_s if selling_s else 0.0,
        latency=Latency.of(firing.latency_ns),
        outcomes=dict(firing.outcomes.most_common()),
        generator_cpu_s=firing.cpu_seconds,
    )


@dataclass(frozen=True)
class StockAudit:
    """The item after the run, as the database and the stock engine each account for it."""

    quantity: int
    orders: int  # live (pending or paid) orders of the item in the database
    units_in_orders: int
    engine: str  # "redis" or "sql"
    engine_taken: int  # units the stock engine holds as reserved or sold

    @property
    def oversold(self) -> int:
        return max(0, self.units_in_orders - self.quantity, self.engine_taken - self.quantity)


async def audit_sale(ctx: Context, item_id: int) -> StockAudit:
    live = sa.and_(orders.c.sale_item_id == item_id, orders.c.status.in_(LIVE_ORDER_STATUSES))
    async with ctx.read() as conn:
        item = (await conn.execute(sa.select(sale_items).where(sale_items.c.id == item_id))).one()
        count, units = (
            await conn.execute(
                sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(orders.c.quantity), 0)).where(live)
            )
        ).one()
    # With Redis the sale_items counters are not touched on the hot path; the engine's own count is the
    # one that must match the orders. Without an engine the row's counters are that count.
    counters = await ctx.stock.read_counters(item_id)
    engine = ctx.stock.name
    taken = counters.taken if counters is not None else item.reserved + item.sold
    return StockAudit(item.quantity, int(count), int(units), engine, taken)


async def wal_position(ctx: Context) -> int | None:
    """PostgreSQL's write-ahead log position in bytes (None on SQLite): two of them around a sale give
    the log each order writes, which replication and disks must carry (docs/capacity.md)."""
    if ctx.settings.is_sqlite:
        return None
    async with ctx.read() as conn:
        return int(await conn.scalar(sa.text("SELECT pg_current_wal_lsn() - '0/0'::pg_lsn")))


async def keys_that_bought(ctx: Context, item_id: int) -> list[str]:
    """The idempotency keys of the item's orders: the purchases a ``--replay`` sends again."""
    async with ctx.read() as conn:
        query = sa.select(orders.c.idempotency_key).where(orders.c.sale_item_id == item_id)
        return list((await conn.scalars(query)).all())


def queue_lines(firing: Firing) -> list[tuple[str, str]]:
    """The record sale through the waiting room: how long buyers spent from their join to the queue's
    last answer (admitted, or told the item sold out)."""
    lat = Latency.of(firing.queue_ns)
    told = firing.outcomes.get("409 sold_out (in the queue)", 0)
    return [
        ("buyers answered by the queue", f"{len(firing.queue_ns):,} (told sold out there: {told:,})"),
        ("join to admission p50 / p99", f"{lat.p50_ms:.1f} / {lat.p99_ms:.1f} ms (max {lat.max_ms:.1f})"),
    ]


def replay_lines(replay: RunSummary, sale: RunSummary) -> list[tuple[str, str]]:
    """The retries of a ``--replay`` against the purchases they repeat (issue 19, point 5: at least 80%
    of the rate of new purchases, p99 under 100 ms, every one the first answer again)."""
    ratio = replay.attempts_per_s / sale.orders_per_s if sale.orders_per_s else 0.0
    lat = replay.latency
    return [
        ("retries", f"{replay.attempts:,} in {replay.duration_s:.2f} s"),
        ("retries answered/s", f"{replay.attempts_per_s:,.0f} ({ratio:.0%} of orders committed/s)"),
        ("latency p50 / p95 / p99", f"{lat.p50_ms:.1f} / {lat.p95_ms:.1f} / {lat.p99_ms:.1f} ms"),
        ("latency max", f"{lat.max_ms:.1f} ms"),
        *((f"  answers {outcome}", f"{count:,}") for outcome, count in replay.outcomes.items()),
    ]


@dataclass(frozen=True)
class Check:
    name: str
    passed: bool
    must_hold: bool  # a broken rule (not a missed speed target) fails the command


def checks(summary: RunSummary, audit: StockAudit) -> list[Check]:
    selling = summary.selling_s if summary.sold_out and summary.selling_s is not None else math.inf
    return [
        Check("zero units oversold", audit.oversold == 0, True),
        Check("orders in database = 201 answers", audit.orders == summary.created, True),
        Check(
            "units in orders = units the stock engine holds",
            audit.units_in_orders == audit.engine_taken,
            True,
        ),
        Check(f"sold out within {TARGET_SELL_OUT_S:.0f} s", selling <= TARGET_SELL_OUT_S, False),
        Check(
            f"at least {TARGET_ORDERS_PER_S:,.0f} orders/s",
            summary.orders_per_s >= TARGET_ORDERS_PER_S,
            False,
        ),
        Check(f"p99 under {TARGET_P99_MS:.0f} ms", summary.latency.p99_ms < TARGET_P99_MS, False),
    ]


def summary_lines(summary: RunSummary, *, sale: bool = True) -> list[tuple[str, str]]:
    """The run as label/value pairs; ``sale=False`` for probes, which create no orders."""
    lat = summary.latency
    lines = [
        ("attempts" if sale else "requests", f"{summary.attempts:,} in {summary.duration_s:.2f} s"),
        ("attempts/s" if sale else "requests/s", f"{summary.attempts_per_s:,.0f}"),
    ]
    if sale:
        selling = f"{summary.selling_s:.2f} s" if summary.selling_s is not None else "nothing sold"
        lines += [
            ("orders committed (201)", f"{summary.created:,}"),
            ("orders committed/s", f"{summary.orders_per_s:,.0f}"),
            ("time to sell out" if summary.sold_out else "selling time (NOT sold out)", selling),
        ]
    return [
        *lines,
        ("latency p50 / p95 / p99", f"{lat.p50_ms:.1f} / {lat.p95_ms:.1f} / {lat.p99_ms:.1f} ms"),
        ("latency max", f"{lat.max_ms:.1f} ms"),
        ("generator CPU", _generator_cost(summary)),
        *((f"  answers {outcome}", f"{count:,}") for outcome, count in summary.outcomes.items()),
    ]


def _generator_cost(summary: RunSummary) -> str:
    per_request_us = summary.generator_cpu_s / summary.attempts * 1e6 if summary.attempts else 0.0
    return (
        f"{summary.generator_cpu_s:.1f} s = {summary.generator_busy:.0%} of one core, "
        f"{per_request_us:.0f} µs per request (enough for {1e6 / max(per_request_us, 1):,.0f}/s per core)"
    )


def audit_lines(audit: StockAudit) -> list[tuple[str, str]]:
    return [
        ("item quantity", f"{audit.quantity:,}"),
        ("orders in database", f"{audit.orders:,} ({audit.units_in_orders:,} units)"),
        (f"units reserved or sold ({audit.engine} stock engine)", f"{audit.engine_taken:,}"),
        ("oversold units", f"{audit.oversold:,}"),
    ]


def check_lines(results: Sequence[Check]) -> list[tuple[str, str]]:
    return [(c.name, "ok" if c.passed else ("FAILED" if c.must_hold else "missed")) for c in results]


def render(title: str, lines: Sequence[tuple[str, str]], out: TextIO = sys.stdout) -> None:
    width = max((len(label) for label, _ in lines), default=0)
    out.write(f"\n{title}\n")
    for label, value in lines:
        out.write(f"  {label:<{width}}  {value}\n")


def as_json(**parts: Any) -> dict[str, Any]:
    """Dataclasses become dicts; properties that matter are added by name."""
    document: dict[str, Any] = {}
    for name, part in parts.items():
        if isinstance(part, RunSummary):
            document[name] = {**asdict(part), "generator_busy": part.generator_busy}
        elif isinstance(part, StockAudit):
            document[name] = {**asdict(part), "oversold": part.oversold}
        elif isinstance(part, list) and part and isinstance(part[0], Check):
            document[name] = [asdict(c) for c in part]
        else:
            document[name] = part
    return document


def write_json(path: Path, document: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(orjson.dumps(document, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS))


class ProgressBar:
    """One line on stderr, redrawn at most five times a second (the generator calls it about that often)."""

    def __init__(self, total: int, done_label: str = "sold", out: TextIO = sys.stderr) -> None:
        self._total, self._label, self._out = total, done_label, out
        self._drawn_at = -1.0

    def __call__(self, answered: int, done: int, elapsed_s: float) -> None:
        if elapsed_s - self._drawn_at < 0.19 and answered < self._total:
            return
        self._drawn_at = elapsed_s
        filled = 30 * answered // self._total if self._total else 30
        rate = answered / elapsed_s if elapsed_s > 0 else 0.0
        self._out.write(
            f"\r[{'#' * filled}{'.' * (30 - filled)}] {answered:,}/{self._total:,} attempts  "
            f"{done:,} {self._label}  {rate:,.0f}/s  {elapsed_s:.1f} s "
        )
        self._out.flush()

    def finish(self) -> None:
        self._out.write("\n")
        self._out.flush()
