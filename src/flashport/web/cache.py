"""A tiny per-process cache with a time-to-live and one loader per key at a time ("single flight").

Why: when a sale opens, hundreds of buyers load the same event page and poll the same live counts at
once. With this cache they share one load per key per TTL, so the database and the stock engine see a
couple of reads a second per process however many pages are open.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

V = TypeVar("V")


class TtlCache(Generic[V]):
    def __init__(
        self, ttl: float, *, max_entries: int = 2048, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl = ttl
        self._max = max_entries
        self._clock = clock
        self._entries: OrderedDict[Hashable, tuple[float, asyncio.Task[V]]] = OrderedDict()

    async def get(self, key: Hashable, load: Callable[[], Awaitable[V]]) -> V:
        """The cached value, or the value of the load in flight, or a fresh load shared by all callers.

        A failed load is not cached: the next caller tries again. The load runs as its own task, so a
        client that goes away does not cancel it for the others (hence ``shield``).
        """
        entry = self._entries.get(key)
        if entry is None or entry[0] <= self._clock():
            entry = (self._clock() + self.ttl, asyncio.ensure_future(load()))
            self._entries[key] = entry
            self._entries.move_to_end(key)
            entry[1].add_done_callback(lambda task: self._forget_failure(key, task))
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)
        return await asyncio.shield(entry[1])

    def clear(self) -> None:
        self._entries.clear()

    def _forget_failure(self, key: Hashable, task: asyncio.Task[V]) -> None:
        if task.cancelled() or task.exception() is not None:
            current = self._entries.get(key)
            if current is not None and current[1] is task:
                del self._entries[key]
