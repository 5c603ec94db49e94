"""Waiting for a condition, never for a length of time.

Some outcomes arrive on their own (a notification sent by a background task, a row written by a worker
process) and there is no event to await. The tests poll for the outcome itself; the deadline is only a
safety net against a hang, generous enough that a loaded machine never reaches it when the code works.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")

DEADLINE_SECONDS = 15.0
# Answers from real servers in the tests: far above any healthy answer, so a machine loaded many times
# over (the suite must pass on one) slows a test instead of failing it with a ReadTimeout.
HTTP_TIMEOUT = 60.0
POLL_SECONDS = 0.02


async def eventually(
    check: Callable[[], Awaitable[T]],
    *,
    within: float = DEADLINE_SECONDS,
    every: float = POLL_SECONDS,
    what: str | None = None,
) -> T:
    """Await ``check()`` until it gives a true value, and return that value. Past the deadline the test
    fails, saying ``what`` it waited for and the last value seen."""
    deadline = time.monotonic() + within
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > deadline:
            waited_for = what or "the condition"
            raise AssertionError(f"{waited_for} did not hold within {within} s (last: {value!r})")
        await asyncio.sleep(every)
