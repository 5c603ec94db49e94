"""Database engines. Built by the app factory or the CLI, never at import time."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from flashport.settings import Settings


def create_engine(settings: Settings, **overrides: Any) -> AsyncEngine:
    url = settings.async_database_url
    if settings.is_sqlite:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, connect_args={"timeout": 30}, **overrides)
        _tune_sqlite(engine)
        return engine
    options: dict[str, Any] = {
        "pool_size": settings.db_pool_size,
        "max_overflow": settings.db_pool_size,
        "pool_pre_ping": True,
    }
    options.update(overrides)
    return create_async_engine(url, **options)


def _tune_sqlite(engine: AsyncEngine) -> None:
    """WAL lets readers run beside the single writer; foreign keys are off by default in SQLite.

    BEGIN IMMEDIATE takes the write lock at the start of every transaction, so two read-then-write
    transactions serialise instead of failing with "database is locked" half-way through. Connections
    opened by :func:`reading` (execution option ``read_only``) begin DEFERRED instead: in WAL mode
    readers then never wait for the writer.
    """

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves, below
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN" if conn.get_execution_options().get("read_only") else "BEGIN IMMEDIATE")


@asynccontextmanager
async def reading(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A connection for reads only (never write through it)."""
    async with engine.connect() as conn:
        await conn.execution_options(read_only=True)
        yield conn


@asynccontextmanager
async def snapshot(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """Reads that all see the database at one moment: a REPEATABLE READ transaction on PostgreSQL,
    whose statements share the snapshot of its first; on SQLite a read transaction is one already."""
    async with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            await conn.execution_options(read_only=True, isolation_level="REPEATABLE READ")
        else:
            await conn.execution_options(read_only=True)
        async with conn.begin():
            yield conn
