"""``flashport bench-pipeline`` end to end, small: the API, a worker and the three partners as real
processes on the test PostgreSQL and Redis; every order is bought, paid, declared, released and shipped,
and the bench's own audit passes."""

from __future__ import annotations

import asyncio
import os
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from flashport.adapters.db.engine import create_engine
from flashport.adapters.db.schema import declarations, orders
from flashport.bench import pipeline
from flashport.bench.pipeline_scratch import drop_prefix
from flashport.settings import Settings
from tests.conftest import REDIS_URL

ORDERS = 20


@pytest.mark.slow
def test_a_small_run_ships_every_order_once_and_its_audit_passes(
    database_settings: Settings, tmp_path: Path
) -> None:
    if database_settings.is_sqlite:
        pytest.skip("the pipeline bench runs on PostgreSQL and Redis")
    prefix = f"fpt{uuid.uuid4().hex[:10]}"
    settings = database_settings.model_copy(update={"redis_url": REDIS_URL, "redis_prefix": prefix})
    options = pipeline.Options(orders=ORDERS, workers=1, timeout_s=240.0)
    try:
        result = pipeline.run(settings, options, run_dir=tmp_path)
    finally:
        _drop_redis_prefix(prefix)

    assert not result.timed_out
    assert result.passed, [(c.name, c.examples) for c in result.checks if not c.passed]
    assert result.stock_engine == "redis"
    shipped = next(s for s in result.figures.stages if s.stage == "shipped")
    assert shipped.orders == ORDERS and result.figures.shipped == ORDERS
    assert result.figures.paid_to_shipped.p50_ms > result.figures.paid_to_released.p50_ms > 0
    back_office = {c.name: c.cpu_s for c in result.cpu["back office"]}
    assert back_office["worker-1"] > 0 and back_office["customs-sim"] > 0
    assert sorted(back_office) == sorted(
        ["api", "customs-sim", "sandbox-pay", "sandbox-logistics", "worker-1", "postgresql", "all processes"]
    )
    # What the bench says, the database says too: every order of the run paid and its parcel shipped.
    assert _states(settings, result) == {("paid", "shipped"): ORDERS}
    for name, pid in result.pids.items():  # every child was stopped and reaped
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
        assert (tmp_path / f"{name}.log").exists()


def _states(settings: Settings, result: pipeline.PipelineRun) -> dict[tuple[str, str], int]:
    async def read() -> dict[tuple[str, str], int]:
        engine = create_engine(settings)
        try:
            async with engine.connect() as conn:
                rows = await conn.execute(
                    sa.select(orders.c.status, declarations.c.state, sa.func.count())
                    .select_from(orders.outerjoin(declarations, declarations.c.order_id == orders.c.id))
                    .where(orders.c.idempotency_key.like(f"pipe-{result.run_id}-%"))
                    .group_by(orders.c.status, declarations.c.state)
                )
                return {(status, state): n for status, state, n in rows}
        finally:
            await engine.dispose()

    return asyncio.run(read())


def _drop_redis_prefix(prefix: str) -> None:
    drop_prefix(REDIS_URL, prefix)
