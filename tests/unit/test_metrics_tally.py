"""The metrics' tally (adapters/metrics.py): observations are added up in the process and written out
within FLUSH_SECONDS, or before a scrape, and what is written is exactly what prometheus_client's own
``inc`` and ``observe`` would have recorded."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from prometheus_client import REGISTRY, CollectorRegistry, Histogram

from flashport.adapters import metrics
from tests.waiting import eventually

ROUTE = "/tests/tally/{n}"


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.fixture(autouse=True)
def switched_on() -> Iterator[None]:
    metrics.flush()
    metrics.configure(True)
    yield
    metrics.flush()
    metrics.configure(True)


def test_a_histogram_written_through_the_tally_matches_prometheus_own_observe() -> None:
    seconds = [0.0005, 0.001, 0.003, 0.02, 0.02, 0.7, 4.0, 11.0, 0.25]
    reference = Histogram("ref", "ref", ["route", "method"], buckets=metrics.LATENCY_BUCKETS,
                          registry=CollectorRegistry())  # fmt: skip
    before = {b: value("flashport_http_request_duration_seconds_bucket", route=ROUTE, method="PUT", le=b)
              for b in ("0.001", "0.025", "1.0", "+Inf")}  # fmt: skip
    for s in seconds:
        metrics.observe_request(ROUTE, "PUT", 200, s)
        reference.labels(ROUTE, "PUT").observe(s)
    metrics.flush()
    for bound, was in before.items():
        got = value("flashport_http_request_duration_seconds_bucket", route=ROUTE, method="PUT", le=bound)
        want = reference.collect()[0]
        wanted = next(x.value for x in want.samples if x.name == "ref_bucket" and x.labels["le"] == bound)
        assert got - was == wanted, bound
    summed = value("flashport_http_request_duration_seconds_sum", route=ROUTE, method="PUT")
    assert summed == pytest.approx(sum(seconds))
    assert value("flashport_http_requests_total", route=ROUTE, method="PUT", status="200") == len(seconds)


async def test_inside_the_loop_observations_wait_for_the_write_out_and_a_scrape_forces_it() -> None:
    metrics.observe_request(ROUTE, "GET", 201, 0.01)
    metrics.observe_request(ROUTE, "GET", 201, 0.01)
    assert value("flashport_http_requests_total", route=ROUTE, method="GET", status="201") == 0
    assert b'route="/tests/tally/{n}",status="201"} 2.0' in metrics.render_processes()


async def test_the_loop_writes_the_tally_out_by_itself() -> None:
    metrics.observe_placement("tally-engine", "created", 0.002)

    async def written() -> bool:
        return value("flashport_stock_place_seconds_count", engine="tally-engine") == 1

    await eventually(written, within=10 * metrics.FLUSH_SECONDS, what="the tally written out")


def test_without_a_running_loop_an_observation_is_written_at_once() -> None:
    metrics.observe_stage("tally_stage", 7, 0.1)
    assert value("flashport_worker_stage_items_total", stage="tally_stage") == 7


def test_switched_off_nothing_is_counted() -> None:
    metrics.configure(False)
    metrics.observe_stage_failure("tally_off")
    metrics.flush()
    assert value("flashport_worker_stage_failures_total", stage="tally_off") == 0


async def test_a_loop_that_went_away_with_a_write_out_pending_does_not_stop_later_ones() -> None:
    metrics.tally.due_at = 1.0  # as if a loop long gone (another test's) had scheduled one, never run
    metrics.observe_refusal("tally_later")

    async def written() -> bool:
        return value("flashport_purchases_total", outcome="tally_later") == 1

    await eventually(written, within=10 * metrics.FLUSH_SECONDS, what="a new write-out scheduled")
