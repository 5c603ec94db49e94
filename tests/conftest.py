"""Test fixtures. Every storage test runs twice: on SQLite and on the local PostgreSQL server, each in a
database created for this run by the real migrations and dropped afterwards."""

from __future__ import annotations

import asyncio
import inspect
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest
import sqlalchemy as sa

from flashport.adapters import redis_client
from flashport.adapters.db import migrate
from flashport.adapters.db.all_tables import metadata
from flashport.adapters.db.engine import create_engine
from flashport.app import create_app
from flashport.bootstrap import build_context, close_context
from flashport.sandbox_pay.keys import ensure_keys
from flashport.services.context import Context
from flashport.settings import Settings
from tests.redis_cluster import ClusterUnavailable, LocalCluster, local_cluster

PG_ADMIN_URL = os.environ.get("FLASHPORT_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("FLASHPORT_TEST_REDIS", "redis://127.0.0.1:6379/0")
BACKENDS = os.environ.get("FLASHPORT_TEST_BACKENDS", "sqlite,postgres").split(",")


@pytest.hookimpl(tryfirst=True)
def pytest_pycollect_makeitem(collector: pytest.Collector, name: str, obj: object) -> None:
    """Run every ``async def`` test on anyio's asyncio runner without marking each one by hand."""
    if name.startswith("test") and inspect.iscoroutinefunction(obj):
        pytest.mark.anyio(obj)


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


def _pg_url(dbname: str) -> str:
    return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + dbname


async def _pg_admin(sql: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN_URL.replace("postgresql://", "postgres://"))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(scope="session", params=BACKENDS)
def database_settings(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Settings]:
    """Settings pointing at a fresh, migrated database of one backend."""

    data_dir: Path = tmp_path_factory.mktemp(f"data-{request.param}")
    # Thousands of buyers buy from one address here; the rate-limit tests turn the limits on themselves.
    # The payment keys are the sandbox's demo keys of this data folder, the very ones build_context would
    # read from it when they are unset, named once here: each context then loads one private key instead
    # of three (about 70 ms each, and every test builds a context). The fallback itself has a unit test.
    demo = ensure_keys(data_dir)
    fixed = {
        "payment_app_private_key": demo.merchant_private,
        "payment_provider_public_key": demo.provider_public,
        # The buy deadline (4 s by default) answers 503 purchase_pending to a purchase the Redis engine
        # has not decided by then: on a CI machine with a core kept busy, the rush test's SQLite
        # purchases took longer, and 8 of its buyers were answered so. Tests do not depend on the
        # machine's speed: test_buy_deadline.py sets a deadline of its own to test it.
        "buy_deadline_seconds": 120.0,
        "payment_notify_deadline_seconds": 120.0,  # the same for notifications (test_stalled_reads.py)
    }
    if request.param == "sqlite":
        settings = Settings(env="test", data_dir=data_dir, rate_limits=False, **fixed)
        migrate.upgrade(settings)
        yield settings
        return
    name = f"fp_test_{uuid.uuid4().hex[:12]}"
    asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"'))
    try:
        settings = Settings(
            env="test", data_dir=data_dir, database_url=_pg_url(name), rate_limits=False, **fixed
        )
        migrate.upgrade(settings)
        yield settings
    finally:
        asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def backend(database_settings: Settings) -> str:
    return "sqlite" if database_settings.is_sqlite else "postgres"


async def _empty_all_tables(engine: sa.ext.asyncio.AsyncEngine) -> None:
    """Every table emptied and every id sequence back to 1. On PostgreSQL by DELETE, children first, in
    one round trip: TRUNCATE of fifty tables makes fifty new files each time and cost about a second
    a test (two on a busy machine), against a few tens of milliseconds for deleting the few rows a
    test leaves."""
    async with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            sequences = (await conn.exec_driver_sql(SEQUENCES)).scalars().all()
            script = ";".join(
                [f'DELETE FROM "{t.name}"' for t in reversed(metadata.sorted_tables)]
                + [f'ALTER SEQUENCE "{name}" RESTART' for name in sequences]
            )
            raw = await conn.get_raw_connection()
            await raw.driver_connection.execute(script)  # type: ignore[union-attr]
        else:
            for table in reversed(metadata.sorted_tables):
                await conn.execute(table.delete())


SEQUENCES = "SELECT sequencename FROM pg_sequences WHERE schemaname = current_schema()"


@pytest.fixture
async def ctx(database_settings: Settings) -> AsyncIterator[Context]:
    """A context (SQL stock engine) on an emptied database: each test starts from nothing."""
    engine = create_engine(database_settings)
    await _empty_all_tables(engine)
    await engine.dispose()
    context = await build_context(database_settings)
    try:
        yield context
    finally:
        await close_context(context)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """``buy_ctx`` once per stock engine: SQL and Redis, and Redis Cluster too in the modules marked
    ``redis_cluster`` (the buy path's contract and race tests; the rest would only repeat them)."""
    chosen = any(
        "buy_ctx" in str(mark.args[0])
        for mark in metafunc.definition.iter_markers("parametrize")
        if mark.args
    )
    if "buy_ctx" in metafunc.fixturenames and not chosen:  # a test may name its engines itself
        engines = ["sql", "redis"]
        if metafunc.definition.get_closest_marker("redis_cluster") is not None:
            engines.append("redis-cluster")
        metafunc.parametrize("buy_ctx", engines, indirect=True)


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    """A three-master Redis Cluster (one replica each) of this test process, on free loopback ports.
    Fails, never skips, when redis-server or redis-cli is missing."""
    try:
        with local_cluster(tmp_path_factory.mktemp("redis-cluster")) as cluster:
            yield cluster
    except ClusterUnavailable as exc:
        pytest.fail(f"no local Redis Cluster for the tests: {exc}")


def redis_url_for(request: pytest.FixtureRequest, engine: str) -> str:
    """The Redis URL of a ``buy_ctx`` engine ("redis" or "redis-cluster")."""
    if engine == "redis-cluster":
        cluster: LocalCluster = request.getfixturevalue("redis_cluster")
        return cluster.url
    return REDIS_URL


@pytest.fixture
async def buy_ctx(request: pytest.FixtureRequest, database_settings: Settings) -> AsyncIterator[Context]:
    """A context for buy-path tests, once per stock engine; Redis keys get a prefix of their own."""
    settings = database_settings
    prefix = f"fpt{uuid.uuid4().hex[:10]}"
    url = None
    if request.param != "sql":
        url = redis_url_for(request, request.param)
        await _require_redis(url)
        settings = settings.model_copy(update={"redis_url": url, "redis_prefix": prefix})
    engine = create_engine(settings)
    await _empty_all_tables(engine)
    await engine.dispose()
    context = await build_context(settings)
    assert context.stock is not None
    await context.stock.following()
    try:
        yield context
    finally:
        await close_context(context)
        if url is not None:
            await _delete_redis_prefix(prefix, url)


async def _require_redis(url: str = REDIS_URL) -> None:
    """Fail (never skip, never hang) when the suite's Redis does not answer: the Redis engine's tests
    would otherwise wait for its restock listener forever."""
    from redis.exceptions import RedisError

    client = redis_client.connect(url)
    try:
        await asyncio.wait_for(client.ping(), 10)
    except (OSError, TimeoutError, RedisError) as exc:
        pytest.fail(f"Redis at {url} is unreachable ({exc}): scripts/ensure-services.sh starts it")
    finally:
        await client.aclose()


async def _delete_redis_prefix(prefix: str, url: str = REDIS_URL) -> None:
    client = redis_client.connect(url)
    try:
        keys = [k async for k in client.scan_iter(match=f"{prefix}:*", count=1000)]
        for start in range(0, len(keys), 500):
            await client.delete(*keys[start : start + 500])
    finally:
        await client.aclose()


@pytest.fixture
async def client(ctx: Context) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(ctx=ctx)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http
