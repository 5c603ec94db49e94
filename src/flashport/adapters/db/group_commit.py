"""Group commit: many concurrent callers, one transaction.

Callers ``await submit(item)``; items that arrive while a transaction is in flight are gathered and
written together in the next one ("natural batching": no fixed wait, so a lone order commits at once
and a rush of thousands costs a handful of transactions). The caller's future resolves only after
COMMIT returned, so an answer built on it is durable (rule 6).

How many transactions may be in flight, and how long a batch lingers for late arrivals, is the
committer's *pace* (commit_pace.py): fixed by default, or adapted to the load by an
:class:`~flashport.adapters.db.commit_pace.AdaptivePace`, which opens every slot and lingers not at all
for a few buyers, and narrows to big batches for a crowd.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from flashport.adapters import metrics
from flashport.adapters.db.commit_pace import FixedPace, Pace

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")

BatchWriter = Callable[[AsyncConnection, Sequence[T]], Awaitable[Sequence[R]]]
Transact = Callable[[Sequence[T]], Awaitable[Sequence[R]]]


def in_transaction(engine: AsyncEngine, write_batch: BatchWriter[T, R]) -> Transact[T, R]:
    """A batch writer run inside one SQLAlchemy transaction: the usual way to commit a batch."""

    async def transact(items: Sequence[T]) -> Sequence[R]:
        async with engine.begin() as conn:
            return await write_batch(conn, items)

    return transact


class GroupCommitter(Generic[T, R]):
    def __init__(
        self,
        transact: Transact[T, R],
        *,
        max_batch: int = 1000,
        max_in_flight: int = 2,
        linger_seconds: float = 0.0,
        name: str = "orders",
        pace: Pace | None = None,
    ) -> None:
        """``pace``, when given, decides in flight and linger; ``max_in_flight`` and ``linger_seconds``
        are a fixed pace otherwise."""
        self._transact = transact
        self.name = name  # its label in the metrics
        self._max_batch = max_batch
        self.pace: Pace = pace if pace is not None else FixedPace(max_in_flight, linger_seconds)
        self._pending: list[tuple[T, asyncio.Future[R]]] = []
        self._in_flight = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self.batches = 0  # counters for tests and the benchmark
        self.items = 0

    async def submit(self, item: T) -> R:
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._pending.append((item, future))
        self.pace.arrived()
        self._maybe_flush()
        return await future

    def _maybe_flush(self) -> None:
        while self._pending and self._in_flight < self.pace.in_flight():
            batch, self._pending = self._pending[: self._max_batch], self._pending[self._max_batch :]
            self._in_flight += 1
            task = asyncio.create_task(self._flush(batch))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _flush(self, batch: list[tuple[T, asyncio.Future[R]]]) -> None:
        try:
            linger = self.pace.linger(len(batch))
            if linger:
                await asyncio.sleep(linger)
                # Late arrivals ride along with this batch instead of waiting for the next one.
                room = self._max_batch - len(batch)
                batch += self._pending[:room]
                self._pending = self._pending[room:]
            await self._write(batch)
        finally:
            self._in_flight -= 1
            self._maybe_flush()

    async def _write(self, batch: list[tuple[T, asyncio.Future[R]]]) -> None:
        items = [item for item, _ in batch]
        started = time.perf_counter()
        try:
            results = await self._transact(items)
        except Exception as exc:
            if len(batch) == 1:
                _fail(batch[0][1], exc)
                return
            # One bad row must not sink its neighbours: retry each alone to find it.
            log.warning("group commit of %d failed (%s); retrying one by one", len(batch), exc)
            for pair in batch:
                await self._write([pair])
            return
        seconds = time.perf_counter() - started
        self.batches += 1
        self.items += len(batch)
        self.pace.committed(len(batch), seconds)
        metrics.observe_group_commit(self.name, len(batch), seconds)
        for (_, future), result in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(result)

    async def drain(self) -> None:
        """Wait until everything submitted so far is written (shutdown)."""
        while self._tasks or self._pending:
            if self._tasks:
                await asyncio.gather(*list(self._tasks), return_exceptions=True)
            else:
                self._maybe_flush()
                await asyncio.sleep(0)


def _fail(future: asyncio.Future[R], exc: BaseException) -> None:
    if not future.done():
        future.set_exception(exc)
