"""The benchmark's arithmetic: percentiles, rates, the sell-out time, the database checks."""

from __future__ import annotations

import io
import json
from array import array
from collections import Counter
from pathlib import Path

import pytest

from flashport.bench.loadgen import Firing
from flashport.bench.report import (
    Latency,
    ProgressBar,
    StockAudit,
    as_json,
    checks,
    percentile,
    summarise,
    write_json,
)

MS = 1_000_000  # ns


def firing_of(*answers: tuple[int, int, int]) -> Firing:
    """(status, sent at ms, answered at ms) per request."""
    return Firing(
        status=array("H", [s for s, _, _ in answers]),
        latency_ns=array("q", [(done - sent) * MS for _, sent, done in answers]),
        finished_ns=array("q", [done * MS for _, _, done in answers]),
        outcomes=Counter(str(s) for s, _, _ in answers),
        cpu_seconds=0.5,
    )


def audit_of(*, quantity: int, orders: int, engine_taken: int) -> StockAudit:
    """Orders of one unit each, as the bench places them."""
    return StockAudit(quantity, orders, orders, "redis", engine_taken)


def test_percentiles_use_the_nearest_rank() -> None:
    values = list(range(1, 101))
    assert [percentile(values, p) for p in (50, 95, 99, 100)] == [50, 95, 99, 100]
    assert percentile([7], 99) == 7
    assert percentile([], 50) == 0
    assert percentile([10, 20, 30, 40], 50) == 20  # a value some request really had, not an average


def test_latencies_are_reported_in_milliseconds() -> None:
    latency = Latency.of([3 * MS, 1 * MS, 2 * MS, 40 * MS])
    assert (latency.p50_ms, latency.p99_ms, latency.max_ms) == (2.0, 40.0, 40.0)


def test_sell_out_runs_from_the_first_request_sent_to_the_last_order_created() -> None:
    summary = summarise(
        firing_of(
            (201, 1000, 1010), (201, 1005, 1500), (409, 1600, 1700), (201, 1100, 2000), (409, 2500, 3000)
        ),
        units=3,
    )
    assert summary.attempts == 5
    assert summary.created == 3
    assert summary.sold_out
    assert summary.selling_s == pytest.approx(1.0)  # sent at 1,000 ms, last 201 at 2,000 ms
    assert summary.duration_s == pytest.approx(2.0)
    assert summary.orders_per_s == pytest.approx(3.0)
    assert summary.attempts_per_s == pytest.approx(2.5)
    assert summary.generator_busy == pytest.approx(0.25)


def test_a_sale_that_did_not_sell_out_says_so() -> None:
    summary = summarise(firing_of((201, 0, 10), (500, 0, 20)), units=5)
    assert not summary.sold_out
    assert summary.created == 1
    assert summarise(firing_of((409, 0, 10)), units=1).selling_s is None
    assert summarise(Firing(), units=1).attempts == 0


def test_oversold_counts_units_beyond_the_quantity_from_orders_or_counters() -> None:
    assert audit_of(quantity=10, orders=10, engine_taken=10).oversold == 0
    assert audit_of(quantity=10, orders=12, engine_taken=9).oversold == 2
    assert audit_of(quantity=10, orders=9, engine_taken=11).oversold == 1


def test_a_broken_rule_fails_the_run_but_a_missed_speed_target_only_shows() -> None:
    slow = summarise(firing_of((201, 0, 200_000)), units=1)  # one order in 200 s: slow, but correct
    audit = audit_of(quantity=1, orders=1, engine_taken=1)
    results = {c.name: c for c in checks(slow, audit)}
    assert results["zero units oversold"].passed
    assert results["orders in database = 201 answers"].passed
    assert not results["sold out within 75 s"].passed
    assert not results["sold out within 75 s"].must_hold

    lost = audit_of(quantity=1, orders=0, engine_taken=1)
    failed = [c.name for c in checks(slow, lost) if c.must_hold and not c.passed]
    assert failed == ["orders in database = 201 answers", "units in orders = units the stock engine holds"]


def test_results_are_written_as_json_with_the_derived_figures(tmp_path: Path) -> None:
    summary = summarise(firing_of((201, 0, 10)), units=1)
    audit = audit_of(quantity=1, orders=1, engine_taken=1)
    path = tmp_path / "out" / "bench.json"
    write_json(path, as_json(summary=summary, database=audit, checks=checks(summary, audit), note=None))
    document = json.loads(path.read_text())
    assert document["summary"]["created"] == 1
    assert document["summary"]["latency"]["p99_ms"] == 10.0
    assert document["database"]["oversold"] == 0
    assert document["checks"][0] == {"name": "zero units oversold", "passed": True, "must_hold": True}
    assert document["note"] is None


def test_the_progress_bar_redraws_about_five_times_a_second() -> None:
    out = io.StringIO()
    bar = ProgressBar(100, "sold", out)
    for tenth in range(1, 11):
        bar(tenth * 5, tenth * 4, tenth / 10)
    bar(100, 80, 1.05)  # the last draw always shows
    bar.finish()
    lines = out.getvalue().split("\r")[1:]
    assert len(lines) == 6
    assert lines[-1].startswith("[##############################] 100/100 attempts  80 sold")
