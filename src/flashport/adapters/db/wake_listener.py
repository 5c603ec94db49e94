"""Wake-ups between processes on PostgreSQL: one ``LISTEN`` connection per worker process.

Triggers (migration 0026) ``NOTIFY`` channel :data:`CHANNEL` with the name of the worker stage that a
committed change gives work to: the API settles a payment and opens its declaration, and ``declared``
is notified. PostgreSQL delivers a notification only once its transaction has committed, so the stage
woken finds the work.

A notification is a hint, never the work: the stages still poll, so one missed (the connection down,
the process starting) delays that work by at most the stage's backed-off interval and loses nothing.
After each (re)connection the listener wakes every stage once, for what was notified while it was not
listening.

Failure policy: the listener never stops the worker. A refused connection or a lost one is logged
and tried again, waiting twice as long each time up to :data:`MAX_RETRY_SECONDS`. A connection that
goes silent without closing (a dropped network path) is found by a ``SELECT 1`` every
``check_seconds`` that does not answer within that time.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
from sqlalchemy.ext.asyncio import AsyncEngine

log = logging.getLogger(__name__)

CHANNEL = "flashport_wake"
# How an operator tells the listener's connection apart in pg_stat_activity (and the tests find it).
APPLICATION_NAME = "flashport-wake-listener"
FIRST_RETRY_SECONDS = 0.5
MAX_RETRY_SECONDS = 30.0
CHECK_SECONDS = 30.0
LOST = (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError)

Connect = Callable[[], Awaitable[asyncpg.Connection]]


def connector(engine: AsyncEngine) -> Connect:
    """Connections to the engine's database, made with the engine's own connection arguments (those
    asyncpg takes; the dialect's own, like its statement cache size, are left out) and no statement
    cache: the listener runs one statement, ``SELECT 1``."""
    _, given = engine.dialect.create_connect_args(engine.url)
    accepted = inspect.signature(asyncpg.connect).parameters
    args: dict[str, Any] = {k: v for k, v in given.items() if k in accepted}
    settings = {**args.pop("server_settings", {}), "application_name": APPLICATION_NAME}
    args.pop("statement_cache_size", None)

    async def connect() -> asyncpg.Connection:
        return await asyncpg.connect(**args, server_settings=settings, statement_cache_size=0)

    return connect


class WakeListener:
    """Calls ``on_wake(stage)`` for each notification on :data:`CHANNEL`, and ``on_connect()`` after
    each (re)connection, until :meth:`run`'s ``stop`` is set."""

    def __init__(
        self,
        connect: Connect,
        on_wake: Callable[[str], None],
        on_connect: Callable[[], None],
        *,
        check_seconds: float = CHECK_SECONDS,
    ) -> None:
        self._connect = connect
        self._on_wake = on_wake
        self._on_connect = on_connect
        self._check_seconds = check_seconds
        self.connections = 0  # made so far: the first and every reconnection

    async def run(self, stop: asyncio.Event) -> None:
        failures = 0
        while not stop.is_set():
            try:
                conn = await asyncio.wait_for(self._connect(), timeout=self._check_seconds)
            except LOST as exc:
                failures += 1
                delay = min(FIRST_RETRY_SECONDS * 2 ** (failures - 1), MAX_RETRY_SECONDS)
                log.warning("wake-up listener cannot connect (%r); again in %.1f s", exc, delay)
                await _until(stop, delay)
                continue
            failures = 0
            try:
                await self._listen(conn, stop)
            except LOST as exc:
                log.warning("wake-up listener lost its connection (%r); reconnecting", exc)
            finally:
                with contextlib.suppress(*LOST):
                    await asyncio.wait_for(conn.close(), timeout=self._check_seconds)

    async def _listen(self, conn: asyncpg.Connection, stop: asyncio.Event) -> None:
        closed = asyncio.Event()
        conn.add_termination_listener(lambda _conn: closed.set())
        await conn.add_listener(CHANNEL, self._heard)
        self.connections += 1
        self._on_connect()
        while not stop.is_set():
            await _until(stop, self._check_seconds, closed)
            if closed.is_set() or conn.is_closed():
                raise ConnectionResetError("the server closed the connection")
            if not stop.is_set():
                await asyncio.wait_for(conn.execute("SELECT 1"), timeout=self._check_seconds)

    def _heard(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        self._on_wake(payload)


async def _until(stop: asyncio.Event, seconds: float, closed: asyncio.Event | None = None) -> None:
    """Until ``stop`` (or ``closed``) is set or ``seconds`` pass."""
    events = [stop] if closed is None else [stop, closed]
    waits = [asyncio.ensure_future(event.wait()) for event in events]
    try:
        await asyncio.wait(waits, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiting in waits:
            waiting.cancel()
