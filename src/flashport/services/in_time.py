"""Answering in time when a store stalls: the awaited work's result, or a refusal (503) once its
deadline has passed, for the callers that wait on one read or one group commit (the item terms and hot
set, a payment notification). The purchase itself has its own deadline, on one timer per tick
(``sales/deadlines.py``)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def in_time(work: Awaitable[T], seconds: float, refusal: Callable[[], Exception]) -> T:
    """``work``'s result, or ``refusal()`` raised once ``seconds`` have passed. A TimeoutError of the
    work's own goes on as it is. Shield ``work`` to let it go on without this caller."""
    try:
        async with asyncio.timeout(seconds) as deadline:
            return await work
    except TimeoutError:
        if not deadline.expired():
            raise
        raise refusal() from None
