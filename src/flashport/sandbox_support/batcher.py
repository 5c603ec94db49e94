"""Collecting single requests into batches for a partner that declares to customs in bulk (a CEB411 or
CEB511 carries up to 100 documents): each request waits at most ``window`` seconds, or less once
``size`` are waiting, then the batch is handed over whole and each request gets its own result.

With ``max_wait`` (longer than ``window``), ``window`` is a quiet gap instead: the batch stays open
while requests keep coming, each within ``window`` of the last, up to ``max_wait`` after its first. A
caller that sends its requests one after another, each signed and checked on the way (the platform
asking the payment company per order), then fills a message instead of a few per ``window``."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

Item = TypeVar("Item")
R = TypeVar("R")

# Handles one batch: a result or an exception for each item, in the order given.
Flush = Callable[[list[Item]], Awaitable[Sequence[R | Exception]]]


class Batcher(Generic[Item, R]):
    """One event loop only. Batches are handled one at a time, in the order they were closed, so a
    later batch never overtakes an earlier one."""

    def __init__(
        self, flush: Flush[Item, R], *, size: int = 100, window: float = 0.05, max_wait: float | None = None
    ) -> None:
        if not 1 <= size <= 100 or window < 0 or (max_wait is not None and max_wait < 0):
            raise ValueError("a batch holds 1 to 100 items and waits a non-negative time")
        self._flush = flush
        self._size = size
        self._window = window
        self._max_wait = max_wait if max_wait is not None and max_wait > window else None
        self._waiting: list[tuple[Item, asyncio.Future[R]]] = []
        self._timer: asyncio.TimerHandle | None = None
        self._opened_at = 0.0  # when the waiting batch's first item came (loop time)
        self._turn = asyncio.Lock()
        self._running: set[asyncio.Task[None]] = set()

    async def submit(self, item: Item) -> R:
        """The item's result once its batch is handled; raises the item's exception."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[R] = loop.create_future()
        self._waiting.append((item, future))
        if len(self._waiting) >= self._size:
            self._close()
        elif self._timer is None:
            self._opened_at = loop.time()
            self._timer = loop.call_later(self._window, self._close)
        elif self._max_wait is not None:  # one more came: wait a quiet gap from now, within max_wait
            self._timer.cancel()
            delay = min(self._window, self._opened_at + self._max_wait - loop.time())
            self._timer = loop.call_later(max(0.0, delay), self._close)
        return await future

    def _close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        batch, self._waiting = self._waiting[: self._size], self._waiting[self._size :]
        if self._waiting:
            self._opened_at = asyncio.get_running_loop().time()
            self._timer = asyncio.get_running_loop().call_later(self._window, self._close)
        if batch:
            task = asyncio.get_running_loop().create_task(self._handle(batch))
            self._running.add(task)
            task.add_done_callback(self._running.discard)

    async def _handle(self, batch: list[tuple[Item, asyncio.Future[R]]]) -> None:
        async with self._turn:
            try:
                results = await self._flush([item for item, _ in batch])
            except Exception as exc:  # the whole batch failed: each request hears why
                results = [exc] * len(batch)
        for (_, future), result in zip(batch, results, strict=True):
            if future.done():  # its request was cancelled meanwhile
                continue
            if isinstance(result, Exception):
                future.set_exception(result)
            else:
                future.set_result(result)
