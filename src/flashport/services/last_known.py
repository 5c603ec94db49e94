"""The last known value of something a request path reads from the database now and then (the buy
path's item terms, the waiting rooms' hot set), kept in memory so that no request waits on the database
for it longer than its deadline.

What a caller of :meth:`LastKnown.get` gets:

- **fresh** (its read ended less than ``ttl`` ago): the value, from memory; no await, no timer. Callers
  on a hot path test :attr:`LastKnown.fresh_until` themselves and skip the call altogether;
- **stale but usable** (its read began less than ``ttl + stale_for`` ago): the value at once, while one
  refresh runs in the background, however many ask. A refresh that stalls (the database or the network
  to it stopped answering) or fails keeps the value as it is, until it is too old;
- **unknown or too old**: the caller waits for the refresh, at most ``deadline`` seconds, then gets 503
  ``service_unavailable`` with ``Retry-After``. The refresh goes on without it: whoever asks next
  shares it, and its value is kept once it comes. A refresh that fails fails its waiting callers with
  its error (a driver error: 503 ``dependency_unavailable`` at the door).

One refresh at a time. :meth:`forget` drops the value and whatever a refresh begun before it brings,
so the next caller waits for a read that began after the change.

Whether serving a stale value is safe is the owner's to say, and to write where it builds one.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from flashport.domain.errors import ServiceUnavailable
from flashport.services.in_time import in_time

log = logging.getLogger(__name__)

T = TypeVar("T")


class LastKnown(Generic[T]):
    __slots__ = (
        "_generation",
        "_monotonic",
        "_refreshing",
        "_stale_for",
        "_ttl",
        "_usable_until",
        "_what",
        "fresh_until",
        "value",
    )

    def __init__(
        self,
        *,
        ttl: float,
        stale_for: float,
        monotonic: Callable[[], float] = time.monotonic,
        what: str = "a cached value",
    ) -> None:
        self.value: T  # set by the first read that succeeds; only read while ``fresh_until`` says so
        self.fresh_until = -math.inf  # on the ``monotonic`` clock: served with no refresh until then
        self._usable_until = -math.inf  # served while a refresh runs until then
        self._ttl = ttl
        self._stale_for = stale_for
        self._monotonic = monotonic
        self._what = what  # for the log
        self._refreshing: asyncio.Task[T] | None = None
        self._generation = 0  # raised by ``forget``: a refresh begun before it brings nothing back

    async def get(self, read: Callable[[], Awaitable[T]], deadline: float) -> T:
        """The value as the module docstring says; ``read`` reads it afresh when a refresh is due,
        ``deadline`` (seconds) bounds the wait of a caller that has no usable value to be given."""
        now = self._monotonic()
        if now < self.fresh_until:
            return self.value
        refreshing = self._refreshing or self._refresh(read, now)
        if now < self._usable_until:
            return self.value
        return await _within(refreshing, deadline, self._what)

    @property
    def known(self) -> bool:
        """Whether a value was read (and not forgotten since), however old."""
        return self._usable_until > -math.inf

    def amend(self, value: T) -> None:
        """Replace a known value (a change this process made itself), keeping when it was read."""
        if self.known:
            self.value = value

    def forget(self) -> None:
        self.fresh_until = self._usable_until = -math.inf
        self._generation += 1
        self._refreshing = None  # its callers still get its value; this cache no longer takes it

    def _refresh(self, read: Callable[[], Awaitable[T]], began: float) -> asyncio.Task[T]:
        task = asyncio.create_task(self._read(read, began, self._generation))
        task.add_done_callback(self._heard)
        self._refreshing = task
        return task

    async def _read(self, read: Callable[[], Awaitable[T]], began: float, generation: int) -> T:
        try:
            value = await read()
        finally:
            if generation == self._generation:
                self._refreshing = None
        if generation == self._generation:
            self.value = value
            self.fresh_until = self._monotonic() + self._ttl
            self._usable_until = began + self._ttl + self._stale_for  # how old the value can be
        return value

    def _heard(self, task: asyncio.Task[T]) -> None:
        if not task.cancelled() and (error := task.exception()) is not None:  # retrieved, and told
            log.warning("could not refresh %s: %r (the last value is kept while usable)", self._what, error)


async def _within(refreshing: asyncio.Task[T], seconds: float, what: str) -> T:
    """The refresh's value, or 503 ``service_unavailable`` once ``seconds`` have passed; the refresh is
    shielded: it goes on without this caller."""
    return await in_time(
        asyncio.shield(refreshing),
        seconds,
        lambda: ServiceUnavailable(
            f"{what} could not be read in time; please retry", code="service_unavailable"
        ),
    )
