"""Metrics, readiness and request ids, over real HTTP: /metrics summed over several API processes, the buy
path's and the back office's figures, readiness apart from liveness, and JSON log lines naming requests."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
from datetime import timedelta

import httpx
import pytest

from flashport.adapters import log_context
from flashport.app import create_app
from flashport.services.context import Context
from flashport.settings import Settings
from tests.factories import auth
from tests.sale_builder import make_buyers, make_sale
from tests.servers import ServerProcess, serving
from tests.waiting import eventually

# /metrics reads every worker stage's depth from the database: on SQLite, with the machine's cores busy
# with other work, that took longer than httpx's default 5 s (seen in CI at load average 19).
SLOW_MACHINE = 60.0


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample in Prometheus's text format (0 when absent)."""
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        match = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$", line)
        if match is None or match[1] != name:
            continue
        have = ",".join(sorted(p for p in (match[2] or "").split(",") if p))
        if have == wanted:
            return float(match[3])
    return 0.0


def server_env(settings: Settings, workers: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLASHPORT_", "PROMETHEUS_"))}
    env |= {
        "FLASHPORT_ENV": "test",
        "FLASHPORT_DATA_DIR": str(settings.data_dir),  # the migrated SQLite file, when SQLite
        "FLASHPORT_WORKERS": str(workers),
        "FLASHPORT_RATE_LIMITS": "false",
    }
    if settings.database_url:
        env["FLASHPORT_DATABASE_URL"] = settings.database_url
    return env


async def test_metrics_are_summed_over_every_api_process_of_serve(database_settings: Settings) -> None:
    server = await ServerProcess.start(server_env(database_settings, workers=2))
    try:
        befores: list[float] = []

        async def start_probe_counted() -> bool:
            # ServerProcess.start returned on its first /livez 200; the process that answered it writes
            # its tally out within metrics.FLUSH_SECONDS, and only then is the count ours to compare with.
            async with httpx.AsyncClient(
                base_url=server.url, trust_env=False, timeout=SLOW_MACHINE
            ) as client:
                befores.append(sample((await client.get("/metrics")).text, "flashport_http_requests_total",
                                      route="/livez", method="GET", status="200"))  # fmt: skip
            return befores[-1] >= 1

        await eventually(
            start_probe_counted, within=SLOW_MACHINE, what="the start's /livez probe in /metrics"
        )
        before = befores[-1]
        # A new connection each: the processes share the listening socket, so the requests spread.
        for _ in range(60):
            async with httpx.AsyncClient(
                base_url=server.url, trust_env=False, timeout=SLOW_MACHINE
            ) as client:
                assert (await client.get("/livez")).status_code == 200
        texts: list[str] = []

        async def all_counted() -> bool:
            # Each process writes its tally out within metrics.FLUSH_SECONDS; then every request shows.
            async with httpx.AsyncClient(
                base_url=server.url, trust_env=False, timeout=SLOW_MACHINE
            ) as client:
                texts.append((await client.get("/metrics")).text)
            labels = {"route": "/livez", "method": "GET", "status": "200"}
            return sample(texts[-1], "flashport_http_requests_total", **labels) - before >= 60

        await eventually(all_counted, within=SLOW_MACHINE, what="every process's /livez answers in /metrics")
    finally:
        await server.stop()
    counted = sample(texts[-1], "flashport_http_requests_total", route="/livez", method="GET", status="200")
    assert counted - before == 60
    # Each process keeps its own file in the directory serve made; /metrics read them all.
    assert len(list((database_settings.data_dir / "metrics").glob("*/counter_*.db"))) >= 2


async def test_a_purchase_shows_in_orders_stock_engine_and_group_commit_metrics(buy_ctx: Context) -> None:
    sale = await make_sale(buy_ctx, quantity=5)
    [(_, token)] = await make_buyers(buy_ctx, 1)
    async with (
        serving(create_app(ctx=buy_ctx, fast_lane=True)) as url,
        httpx.AsyncClient(base_url=url, trust_env=False, timeout=SLOW_MACHINE) as client,
    ):
        before = (await client.get("/metrics")).text
        bought = await client.post(
            f"/api/v1/sale-items/{sale.item_id}/buy",
            json={"quantity": 1},
            headers=auth(token) | {"Idempotency-Key": "m1"},
        )
        assert bought.status_code == 201
        after = (await client.get("/metrics")).text

    def grew(name: str, **labels: str) -> float:
        return sample(after, name, **labels) - sample(before, name, **labels)

    engine = buy_ctx.stock.name
    assert grew("flashport_orders_created_total") == 1
    assert grew("flashport_purchases_total", outcome="created") == 1
    assert grew("flashport_stock_place_seconds_count", engine=engine) == 1
    assert grew("flashport_group_commit_batch_size_count", committer="orders") >= 1
    route = "/api/v1/sale-items/{item_id}/buy"
    assert grew("flashport_http_requests_total", route=route, method="POST", status="201") == 1
    assert grew("flashport_http_request_duration_seconds_count", route=route, method="POST") == 1


async def test_worker_queue_depths_come_from_the_database(buy_ctx: Context) -> None:
    sale = await make_sale(buy_ctx, quantity=5)
    [(_, token)] = await make_buyers(buy_ctx, 1)
    async with (
        serving(create_app(ctx=buy_ctx, fast_lane=False)) as url,
        httpx.AsyncClient(base_url=url, trust_env=False, timeout=SLOW_MACHINE) as client,
    ):
        headers = auth(token) | {"Idempotency-Key": "q1"}
        await client.post(f"/api/v1/sale-items/{sale.item_id}/buy", json={"quantity": 1}, headers=headers)
        now = (await client.get("/metrics")).text
        base = buy_ctx.clock
        buy_ctx.clock = lambda: base() + timedelta(minutes=21)  # past the 20-minute payment window
        later = (await client.get("/metrics")).text
    assert sample(now, "flashport_worker_queue_depth", stage="expired") == 0
    assert sample(later, "flashport_worker_queue_depth", stage="expired") == 1
    for stage in ("declared", "shipped", "webhooks_sent", "refunds_sent"):
        assert f'flashport_worker_queue_depth{{stage="{stage}"}}' in later
    assert 'flashport_partner_lag_seconds{kind="webhook_delivery"} 0.0' in later


async def test_readiness_names_the_store_that_does_not_answer_while_liveness_stays_up(
    buy_ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with (
        serving(create_app(ctx=buy_ctx)) as url,
        httpx.AsyncClient(base_url=url, trust_env=False, timeout=SLOW_MACHINE) as client,
    ):
        ready = await client.get("/readyz")
        assert ready.status_code == 200
        assert ready.json()["status"] == "ready"
        assert set(ready.json()["checks"]) == {"database", "stock_engine"}

        async def down() -> None:
            raise ConnectionError("refused")

        monkeypatch.setattr(buy_ctx.stock, "ping", down)  # the store's outage, at its one door
        unready = await client.get("/readyz")
        assert (await client.get("/livez")).status_code == 200
    assert unready.status_code == 503
    assert unready.headers["retry-after"] == "1"
    assert unready.json() == {
        "code": "not_ready",
        "message": "a dependency does not answer",
        "details": [{"field": "stock_engine", "message": "error: ConnectionError"}],
    }


async def test_a_request_id_is_kept_or_made_sent_back_and_written_on_its_log_lines(
    ctx: Context, capsys: pytest.CaptureFixture[str]
) -> None:
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    log_context.configure("debug", "json", force=True)
    try:
        async with (
            serving(create_app(ctx=ctx)) as url,
            httpx.AsyncClient(base_url=url, trust_env=False, timeout=SLOW_MACHINE) as client,
        ):
            given = await client.get("/api/v1/brands/0", headers={"X-Request-ID": "edge-42.a"})
            made = await client.get("/livez", headers={"X-Request-ID": "no spaces allowed"})
            logging.getLogger("flashport.test").info("outside any request")
            await asyncio.sleep(0)
    finally:  # the runner's own logging back, as it was
        for handler in root.handlers[:]:
            root.removeHandler(handler)
        for handler in saved[0]:
            root.addHandler(handler)
        root.setLevel(saved[1])
    assert given.headers["x-request-id"] == "edge-42.a"
    assert re.fullmatch(r"[0-9a-f]{32}", made.headers["x-request-id"])
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    outside = [line for line in lines if line["message"] == "outside any request"]
    answered = [line for line in lines if line["logger"] == "flashport.http"]
    assert [(line["message"], line["request_id"]) for line in answered][:2] == [
        (f"GET /api/v1/brands/0 answered {given.status_code}", "edge-42.a"),
        ("GET /livez answered 200", made.headers["x-request-id"]),
    ]
    assert [(line["level"], line["logger"], line["request_id"]) for line in outside] == [
        ("INFO", "flashport.test", None)
    ]
