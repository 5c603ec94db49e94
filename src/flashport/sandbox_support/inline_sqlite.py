"""A sandbox's SQLite connection run in the event loop's own thread, for SQLAlchemy's ``aiosqlite``
dialect (``create_async_engine(..., async_creator=InlineConnection.opener(path))``).

Why: ``aiosqlite`` runs each call in a thread of its own and wakes the event loop for every answer.
For the sandboxes' short statements on a local file that hand-over cost about twice the statement
itself (measured: some 320 µs of CPU per indexed select against some 100 µs for the statement run in
place), and the customs simulator runs dozens per order. Here each call runs in place and its
awaitable is already done.

The price, and why it is safe: a call blocks the event loop while SQLite works. A statement waiting
for another connection's write lock would block it for the whole busy timeout, and that other
connection could never finish; so an engine over these connections must have exactly one
(``pool_size=1, max_overflow=0``, see :mod:`.sqlite`): transactions of one process then take turns
in the pool, waiting there without blocking, and each sandbox's file has one process. A transaction
must not open a second connection of the same engine while it holds the first (it would wait for
itself until the pool's timeout).
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Generator, Iterable, Sequence
from typing import Any


class InlineCursor:
    """The part of an ``aiosqlite`` cursor SQLAlchemy uses, each call done in place."""

    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self._cursor = cursor

    async def __aenter__(self) -> InlineCursor:
        return self

    async def __aexit__(self, *_: object) -> None:
        self._cursor.close()

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value

    async def execute(self, sql: str, parameters: Sequence[Any] = ()) -> InlineCursor:
        self._cursor.execute(sql, parameters)
        return self

    async def executemany(self, sql: str, parameters: Iterable[Sequence[Any]]) -> InlineCursor:
        self._cursor.executemany(sql, parameters)
        return self

    async def fetchone(self) -> Any:
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        return self._cursor.fetchmany(self._cursor.arraysize if size is None else size)

    async def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    async def close(self) -> None:
        self._cursor.close()


class _InPlace:
    """Stands in for ``aiosqlite``'s queue to its thread (SQLAlchemy's dialect puts the isolation
    level change there): runs the call at once and settles its future."""

    @staticmethod
    def put_nowait(item: tuple[asyncio.Future[Any] | None, Callable[[], Any]]) -> None:
        future, function = item
        try:
            result = function()
        except BaseException as exc:
            if future is None:
                raise
            future.set_exception(exc)
        else:
            if future is not None:
                future.set_result(result)


class InlineConnection:
    """The part of an ``aiosqlite`` connection SQLAlchemy's dialect uses, each call done in place.
    Awaiting it opens the file."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._connection: sqlite3.Connection | None = None
        self._tx = _InPlace()

    @classmethod
    def opener(cls, path: str) -> Callable[[], InlineConnection]:
        return lambda: cls(path)

    def __await__(self) -> Generator[Any, None, InlineConnection]:
        if self._connection is None:
            self._connection = sqlite3.connect(self._path)
        return self
        yield  # a generator, never suspended: the connection is open when the await returns

    @property
    def _conn(self) -> sqlite3.Connection:
        if self._connection is None:
            raise ValueError("no active connection")
        return self._connection

    @property
    def isolation_level(self) -> str | None:
        return self._conn.isolation_level

    async def create_function(self, *args: Any, **kwargs: Any) -> None:
        self._conn.create_function(*args, **kwargs)

    def cursor(self) -> InlineCursor:
        return InlineCursor(self._conn.cursor())

    async def commit(self) -> None:
        self._conn.commit()

    async def rollback(self) -> None:
        self._conn.rollback()

    async def close(self) -> None:
        self.stop()

    def stop(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
