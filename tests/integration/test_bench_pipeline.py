"""``flashport bench-pipeline`` end to end, small: the API, a worker and the three partners as real
processes on the test PostgreSQL and Redis; every order is bought, paid, declared, released and shipped,
the command's own audit passes, its report is written, and no child outlives it."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import orjson
import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from flashport.adapters.db.engine import create_engine
from flashport.adapters.db.schema import declarations, orders
from flashport.bench.pipeline_db import STAGES
from flashport.bench.pipeline_scratch import drop_prefix
from flashport.cli import main
from flashport.settings import Settings
from tests.conftest import REDIS_URL

ORDERS = 20


@pytest.mark.slow
def test_a_small_run_ships_every_order_once_and_its_audit_passes(
    database_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if database_settings.is_sqlite:
        pytest.skip("the pipeline bench runs on PostgreSQL and Redis")
    prefix = f"fpt{uuid.uuid4().hex[:10]}"
    assert database_settings.database_url is not None
    for name, value in {
        "FLASHPORT_ENV": "test",
        "FLASHPORT_DATABASE_URL": database_settings.database_url,
        "FLASHPORT_REDIS_URL": REDIS_URL,
        "FLASHPORT_REDIS_PREFIX": prefix,
        "FLASHPORT_DATA_DIR": str(tmp_path / "data"),  # its keys and the sandbox's, not the work tree's
    }.items():
        monkeypatch.setenv(name, value)
    command = ["bench-pipeline", "--orders", str(ORDERS), "--workers", "1", "--timeout", "240"]
    try:
        answer = CliRunner().invoke(main, [*command, "--out", str(tmp_path)], catch_exceptions=False)
    finally:
        drop_prefix(REDIS_URL, prefix)

    assert answer.exit_code == 0, answer.output
    [report] = tmp_path.glob("pipeline-*.json")
    document = orjson.loads(report.read_bytes())
    assert document["audit_passed"] and all(check["passed"] for check in document["audit"])
    assert document["run"]["stock_engine"] == "redis" and not document["run"]["timed_out"]
    figures = document["figures"]
    assert figures["shipped"] == ORDERS
    assert [(s["stage"], s["orders"]) for s in figures["stages"]] == [(s, ORDERS) for s in STAGES]
    assert figures["paid_to_shipped"]["p50_ms"] > figures["paid_to_released"]["p50_ms"] > 0
    back_office = {row["name"]: row["cpu_s"] for row in document["cpu"]["back office"]}
    assert back_office["worker-1"] > 0 and back_office["customs-sim"] > 0
    assert {"api", "sandbox-pay", "sandbox-logistics", "postgresql", "all processes"} <= back_office.keys()
    assert report.with_suffix(".svg").read_text().count("<polyline") == len(STAGES)
    # What the report says, the database says too: every order of the run paid and its parcel shipped.
    assert _states(database_settings, document["run"]["run_id"]) == {("paid", "shipped"): ORDERS}
    assert _processes_of(Path(document["run"]["run_dir"])) == []


def _states(settings: Settings, run_id: str) -> dict[tuple[str, str], int]:
    async def read() -> dict[tuple[str, str], int]:
        engine = create_engine(settings)
        try:
            async with engine.connect() as conn:
                rows = await conn.execute(
                    sa.select(orders.c.status, declarations.c.state, sa.func.count())
                    .select_from(orders.outerjoin(declarations, declarations.c.order_id == orders.c.id))
                    .where(orders.c.idempotency_key.like(f"pipe-{run_id}-%"))
                    .group_by(orders.c.status, declarations.c.state)
                )
                return {(status, state): n for status, state, n in rows}
        finally:
            await engine.dispose()

    return asyncio.run(read())


def _processes_of(run_dir: Path) -> list[int]:
    """Processes still running with the run's folder as their data folder: children left behind."""
    marker = f"FLASHPORT_DATA_DIR={run_dir}\0".encode()
    left = []
    for environ in Path("/proc").glob("[0-9]*/environ"):
        try:
            if marker in environ.read_bytes():
                left.append(int(environ.parent.name))
        except OSError:
            continue  # gone meanwhile, or not ours to read
    return left
