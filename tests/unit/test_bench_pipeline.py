"""bench-pipeline's pure parts: the bench people, the stage figures and latencies, CPU per order, the
audit's verdicts on given facts, the JSON report and the chart, the children's environment."""

from __future__ import annotations

import os
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from flashport.bench.pipeline_audit import OrderFacts, audit, passed
from flashport.bench.pipeline_buyers import consignee, real_name
from flashport.bench.pipeline_chart import stages_svg
from flashport.bench.pipeline_db import STAGES, StageEvent
from flashport.bench.pipeline_procs import Ports, child_env, cpu_seconds
from flashport.bench.pipeline_report import as_json, cpu_per_order, figures, stage_series
from flashport.bench.pipeline_scratch import server_url
from flashport.domain.identity import check_consignee, check_real_name
from flashport.settings import Settings

T0 = datetime(2026, 12, 2, 12, 0, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


# --- the bench's people ---------------------------------------------------------------------------------


def test_every_bench_person_is_a_valid_real_name_with_a_number_of_their_own() -> None:
    people = [real_name(n, offset_days=4321) for n in range(3000)]
    assert len({p.id_number for p in people}) == 3000
    for n, person in enumerate(people[:300]):
        assert check_real_name(person.name, person.id_number, date(2026, 12, 2)).id_number == person.id_number
        form = consignee(n, person)
        check_consignee(
            form["consignee_name"],
            form["consignee_phone"],
            form["consignee_address"],
            form["consignee_district"],
        )


def test_another_offset_gives_other_people() -> None:
    first = {real_name(n, offset_days=0).id_number for n in range(1000)}
    second = {real_name(n, offset_days=7).id_number for n in range(1000)}
    assert first.isdisjoint(second)


# --- figures from stage events --------------------------------------------------------------------------


def order_through(order_no: str, paid: float, step: float) -> list[StageEvent]:
    """An order that reaches each stage ``step`` seconds after the previous one."""
    return [StageEvent(order_no, stage, at(paid + i * step)) for i, stage in enumerate(STAGES)]


def test_latencies_are_nearest_rank_percentiles_from_payment_to_release_and_to_shipping() -> None:
    # 100 orders paid at 0..0.99 s; order k takes k+1 seconds per stage, so paid -> released is
    # 4 * (k + 1) s (released is the 5th stage) and paid -> shipped 5 * (k + 1) s.
    events = [e for k in range(100) for e in order_through(f"O{k}", k / 100, k + 1)]
    run = figures(events, orders=100, workers=1, mode="backlog", workers_started=at(1.0))
    assert (run.paid_to_released.p50_ms, run.paid_to_released.p95_ms) == (200_000, 380_000)
    assert (run.paid_to_released.p99_ms, run.paid_to_released.max_ms) == (396_000, 400_000)
    assert (run.paid_to_shipped.p50_ms, run.paid_to_shipped.p99_ms) == (250_000, 495_000)


def test_stage_figures_span_rates_and_the_two_headline_times() -> None:
    events = [
        *order_through("A", 0.0, 1.0),  # paid at 0, shipped at 5
        *order_through("B", 2.0, 2.0),  # paid at 2, shipped at 12
        StageEvent("B", "shipped", at(30.0)),  # a repeated event does not move the first time
    ]
    run = figures(events, orders=2, workers=2, mode="backlog", workers_started=at(4.0))
    shipped = next(s for s in run.stages if s.stage == "shipped")
    assert (shipped.orders, shipped.first_s, shipped.last_s) == (2, 5.0, 12.0)
    assert shipped.per_s == pytest.approx(2 / 7)
    assert run.workers_started_s == 4.0 and run.last_paid_s == 2.0
    assert run.workers_to_shipped_s == 8.0 and run.last_paid_to_shipped_s == 10.0
    assert run.shipped == 2 and run.orders_per_s == pytest.approx(0.25)


def test_the_clock_starts_at_the_workers_when_they_start_before_the_first_payment() -> None:
    run = figures(order_through("A", 3.0, 1.0), orders=1, workers=1, mode="live", workers_started=at(1.0))
    assert run.zero == at(1.0) and run.workers_started_s == 0.0
    paid = next(s for s in run.stages if s.stage == "paid")
    assert (paid.first_s, paid.per_s) == (2.0, None)  # one order has no span to be a rate over


def test_an_unfinished_run_has_no_shipping_time() -> None:
    events = [StageEvent("A", "paid", at(0)), StageEvent("A", "declared", at(1))]
    run = figures(events, orders=1, workers=1, mode="backlog", workers_started=at(0.5))
    assert run.shipped == 0 and run.workers_to_shipped_s is None and run.orders_per_s is None
    assert run.paid_to_shipped.p99_ms == 0


def test_cpu_per_order_counts_a_process_that_started_in_between_from_zero_and_totals_them() -> None:
    rows = cpu_per_order(
        {"api": 10.0, "customs-sim": 1.0}, {"api": 12.0, "customs-sim": 1.5, "worker-1": 3.5}, 100
    )
    assert [(r.name, r.cpu_s, r.ms_per_order) for r in rows] == [
        ("api", 2.0, 20.0),
        ("customs-sim", 0.5, 5.0),
        ("worker-1", 3.5, 35.0),
        ("all processes", 6.0, 60.0),
    ]


def test_database_backends_count_as_one_group_and_one_gone_in_between_is_not_counted() -> None:
    before = {"postgresql:11": 5.0, "postgresql:12": 1.0, "postgresql:13": 9.0}  # 13 disconnects
    after = {"postgresql:11": 6.0, "postgresql:12": 1.5, "postgresql:14": 0.5}  # 14 connects
    assert [(r.name, r.cpu_s) for r in cpu_per_order(before, after, 10)] == [
        ("postgresql", 2.0),
        ("all processes", 2.0),
    ]


def test_the_series_count_orders_per_stage_cumulatively_up_to_the_last_event() -> None:
    events = [e for k in range(10) for e in order_through(f"O{k}", k, 1.0)]
    series = stage_series(events, at(0), points=100)
    assert series["paid"][0] == (0.0, 1) and series["paid"][-1][1] == 10
    assert series["shipped"][-1] == (14.0, 10)
    assert all(a[1] <= b[1] for a, b in zip(series["declared"], series["declared"][1:], strict=False))


# --- the audit's verdicts -------------------------------------------------------------------------------


def shipped_order(order_no: str = "O1") -> OrderFacts:
    """What one order looks like after a clean pass through the back office."""
    return OrderFacts(
        order_no=order_no,
        status="paid",
        declaration_state="shipped",
        version=1,
        events={
            "order.paid": 1,
            "declaration.opened": 1,
            "declaration.declared": 1,
            "declaration.received": 1,
            "declaration.matched": 1,
            "declaration.released": 1,
            "order.shipped": 1,
            "customs.message_sent": 2,
        },
        sent={"CEB311": 1, "CEB621": 1},
        documents={("CEB311", 1): 1, ("CEB511", 1): 1, ("CEB621", 1): 1},
        applied_receipts=3,
    )


def failed_checks(facts: list[OrderFacts], expected: int | None = None) -> dict[str, list[str]]:
    checks = audit(facts, len(facts) if expected is None else expected)
    return {c.name: c.examples for c in checks if not c.passed}


def test_a_clean_run_passes_every_check() -> None:
    checks = audit([shipped_order("O1"), shipped_order("O2")], 2)
    assert passed(checks) and len(checks) == 6


@pytest.mark.parametrize(
    ("change", "failing"),
    [
        ({"declaration_state": "released"}, "every order shipped exactly once"),
        ({"events_change": {"order.shipped": 2}}, "every order shipped exactly once"),
        ({"documents": {("CEB311", 1): 2, ("CEB511", 1): 1, ("CEB621", 1): 1}}, "every document declared"),
        ({"documents": {("CEB311", 1): 1, ("CEB621", 1): 1}}, "every document declared"),
        ({"receipts_applied_twice": 1}, "every receipt applied once"),
        ({"applied_receipts": 4}, "every receipt applied once"),
        ({"events_change": {"declaration.opened": 0}}, "the outbox holds every event"),
        ({"sent": {"CEB311": 1}}, "the outbox holds every event"),
        ({"status": "expired"}, "every order paid"),
    ],
)
def test_each_break_fails_its_own_check_with_the_order_named(change: dict[str, object], failing: str) -> None:
    good = shipped_order("O1")
    events_change = change.pop("events_change", None)
    bad = replace(shipped_order("O2"), **change)  # type: ignore[arg-type]
    if isinstance(events_change, dict):
        bad = replace(bad, events={**bad.events, **events_change})
    failed = failed_checks([good, bad])
    assert [name for name in failed if name.startswith(failing)], failed
    assert all(examples == ["O2"] for examples in failed.values())


def test_a_second_version_needs_every_document_again_and_allows_the_resent_messages() -> None:
    order = replace(
        shipped_order(),
        version=2,
        documents={(kind, v): 1 for kind in ("CEB311", "CEB511", "CEB621") for v in (1, 2)},
        sent={"CEB311": 3, "CEB621": 2},  # the first order message went twice (a retry)
    )
    assert failed_checks([order]) == {}
    missing = replace(order, documents={k: v for k, v in order.documents.items() if k != ("CEB511", 2)})
    assert list(failed_checks([missing])) == ["every document declared once per version"]


def test_orders_missing_from_the_database_fail_the_audit() -> None:
    assert list(failed_checks([shipped_order()], expected=3)) == [
        "all 3 orders of the run are in the database"
    ]


# --- the report -----------------------------------------------------------------------------------------


def test_the_json_report_holds_figures_cpu_audit_and_series() -> None:
    events = [e for k in range(5) for e in order_through(f"O{k}", k * 0.1, 0.5)]
    run = figures(events, orders=5, workers=1, mode="backlog", workers_started=at(1.0))
    checks = audit([shipped_order(f"O{k}") for k in range(5)], 5)
    document = as_json(
        run,
        settings={"orders": 5},
        checks=checks,
        cpu={"back office": cpu_per_order({}, {"worker-1": 1.0}, 5)},
        series=stage_series(events, run.zero),
        seconds={"back office": 3.0},
    )
    back = orjson.loads(orjson.dumps(document))
    assert back["run"] == {"orders": 5} and back["audit_passed"] is True
    assert back["figures"]["shipped"] == 5 and back["figures"]["zero"] == T0.isoformat()
    assert back["figures"]["paid_to_shipped"]["p99_ms"] == 2500.0
    assert [s["stage"] for s in back["figures"]["stages"]] == list(STAGES)
    assert back["cpu"]["back office"][-1] == {"name": "all processes", "cpu_s": 1.0, "ms_per_order": 200.0}
    assert [c["passed"] for c in back["audit"]] == [True] * 6
    assert back["orders_per_stage"]["shipped"][-1] == [2.9, 5]  # O4: paid at 0.4, 5 stages later


def test_the_chart_draws_a_line_per_stage_and_marks_the_workers_start() -> None:
    events = [e for k in range(5) for e in order_through(f"O{k}", k * 0.1, 0.5)]
    svg = stages_svg(stage_series(events, at(0)), title="run <1>", orders=5, workers_started_s=1.0)
    assert svg.startswith("<svg") and svg.rstrip().endswith("</svg>")
    assert svg.count("<polyline") == len(STAGES) and "workers start" in svg and "run &lt;1&gt;" in svg


# --- the children ---------------------------------------------------------------------------------------


def test_every_child_points_at_the_runs_own_partners_and_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLASHPORT_PORT", "9999")  # the caller's own server port is not the run's
    monkeypatch.setenv("FLASHPORT_CUSTOMS_CONCURRENCY", "4")  # tuning passes through
    keys = {"secret_key": "k" * 40, "identity_key": "i" * 44, "identity_hash_key": "h" * 40}
    settings = Settings(database_url="postgresql://u@db:5432/bench", redis_prefix="p1", **keys)
    env = child_env(settings, Path("/run/x"), Ports(8100, 8101, 8102, 8103), "fpk_carrier")
    assert (env["FLASHPORT_IDENTITY_KEY"], env["FLASHPORT_IDENTITY_HASH_KEY"]) == ("i" * 44, "h" * 40)
    assert "FLASHPORT_PORT" not in env and env["FLASHPORT_CUSTOMS_CONCURRENCY"] == "4"
    assert env["FLASHPORT_DATABASE_URL"] == "postgresql://u@db:5432/bench"
    assert (env["FLASHPORT_REDIS_PREFIX"], env["FLASHPORT_SECRET_KEY"]) == ("p1", "k" * 40)
    assert env["FLASHPORT_PAYMENT_GATEWAY_URL"] == "http://127.0.0.1:8101/gateway.do"
    assert env["FLASHPORT_PAYMENT_NOTIFY_URL"] == "http://127.0.0.1:8100/api/v1/payments/alipay/notify"
    customs = "http://127.0.0.1:8102"
    assert env["FLASHPORT_CUSTOMS_URL"] == env["FLASHPORT_SANDBOX_CUSTOMS_URL"] == customs
    assert env["FLASHPORT_SANDBOX_LOGISTICS_CUSTOMS_URL"] == customs
    assert env["FLASHPORT_LOGISTICS_URL"] == "http://127.0.0.1:8103"
    assert env["FLASHPORT_LOGISTICS_API_KEY"] == env["FLASHPORT_SANDBOX_LOGISTICS_API_KEY"]
    assert {env[k] for k in env if k.endswith("DATA_DIR")} == {"/run/x"}
    # The carrier follows its partner feed at the run's platform, with the key made for it.
    assert env["FLASHPORT_LOGISTICS_HANDOVER"] == "feed"
    assert env["FLASHPORT_SANDBOX_LOGISTICS_PLATFORM_URL"] == "http://127.0.0.1:8100"
    assert env["FLASHPORT_SANDBOX_LOGISTICS_PARTNER_KEY"] == "fpk_carrier"


def test_cpu_seconds_reads_a_live_process() -> None:
    spent = cpu_seconds(os.getpid())
    sum(i * i for i in range(2_000_000))  # burn some CPU
    assert cpu_seconds(os.getpid()) > spent >= 0


def test_the_scratch_database_is_made_on_the_configured_server() -> None:
    assert server_url("postgresql+asyncpg://u:p@db:5433/flash?ssl=1", "x") == "postgresql://u:p@db:5433/x"
    assert server_url(None, "x") == "postgresql://postgres@127.0.0.1:5432/x"
