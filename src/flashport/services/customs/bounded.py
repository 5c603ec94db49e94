"""Working through many declarations at once, a bounded number at a time: after a big sale thousands
of orders are paid within minutes, and each declaration waits on partners' HTTP answers far more than
it uses the CPU."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import TypeVar

from flashport.settings import Settings

log = logging.getLogger(__name__)

T = TypeVar("T")


def concurrency(settings: Settings) -> int:
    """How many declarations one worker moves at once. SQLite has one writer: one at a time there."""
    return 1 if settings.is_sqlite else settings.customs_concurrency


async def each(settings: Settings, items: Iterable[T], job: Callable[[T], Awaitable[int]], what: str) -> int:
    """Run ``job`` on every item, at most :func:`concurrency` at once; returns the sum of what the jobs
    return. A job that fails unexpectedly is logged and counts 0: one bad declaration does not stop
    the others (each is retried on a later pass)."""
    gate = asyncio.Semaphore(concurrency(settings))

    async def guarded(item: T) -> int:
        async with gate:
            try:
                return await job(item)
            except Exception:
                log.exception("%s failed for %s", what, item)
                return 0

    return sum(await asyncio.gather(*(guarded(item) for item in items)))
