"""A sandbox's own SQLite file: opened at start, tables made if missing (``create_all``: a stand-in
for a partner's systems is not part of the platform's migrations), closed at stop.

The engine has one connection, whose calls run in the event loop's thread
(:mod:`.inline_sqlite`), so a sandbox's HTTP handlers and its background senders take turns for it
in the pool; every transaction still begins IMMEDIATE, so a decision read-then-written in one
transaction (the customs match) is taken by one writer at a time even with another process on the
file.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from flashport.sandbox_support.inline_sqlite import InlineConnection


class UtcDateTime(sa.TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out (SQLite itself keeps no zone)."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


def _tune(engine: AsyncEngine, *, foreign_keys: bool) -> None:
    pragmas = ["journal_mode=WAL", "synchronous=NORMAL", "busy_timeout=30000"]
    if foreign_keys:
        pragmas.append("foreign_keys=ON")

    @sa.event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # transactions are begun below, not by the driver
        cursor = dbapi_conn.cursor()
        for pragma in pragmas:
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @sa.event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


class SandboxSqlite:
    """``who`` names the sandbox in the error raised when it is used before its app started."""

    def __init__(self, file: Path, metadata: sa.MetaData, who: str, *, foreign_keys: bool = True) -> None:
        self._file = file
        self._metadata = metadata
        self._who = who
        self._foreign_keys = foreign_keys
        self._engine: AsyncEngine | None = None

    async def start(self) -> None:
        self._file.parent.mkdir(parents=True, exist_ok=True)
        path = str(self._file.resolve())
        # One connection, run in place (see .inline_sqlite): transactions take turns in the pool.
        engine = create_async_engine(
            f"sqlite+aiosqlite:///{path}",
            async_creator=InlineConnection.opener(path),
            pool_size=1,
            max_overflow=0,
        )
        _tune(engine, foreign_keys=self._foreign_keys)
        async with engine.begin() as conn:
            await conn.run_sync(self._metadata.create_all)
        self._engine = engine

    async def stop(self) -> None:
        if self._engine is not None:
            await self._engine.dispose()
            self._engine = None

    @property
    def engine(self) -> AsyncEngine:
        if self._engine is None:
            raise RuntimeError(f"{self._who} is not started: enter its app's lifespan first")
        return self._engine
