"""``kill -USR1 <pid>``: a process of ``flashport serve`` or ``flashport worker`` writes every asyncio task
it has, with the line each one waits on, to its log. Asked of a process that answers nothing, it shows
where its requests wait (a pool, a lock, a future nobody resolves) without stopping it."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections import Counter
from typing import Any

log = logging.getLogger(__name__)


def install(loop: asyncio.AbstractEventLoop) -> None:
    """Register the handler on ``loop`` (the main thread's loop; a no-op where signals cannot be had)."""
    try:
        loop.add_signal_handler(signal.SIGUSR1, dump_tasks)
    except (NotImplementedError, RuntimeError, ValueError):  # not the main thread, or no signals here
        log.debug("no SIGUSR1 task dump in this process")


def dump_tasks() -> str:
    """Every task's chain of awaits, innermost last; tasks of the same chain counted once (a thousand
    purchases waiting on one future make one entry). Returned and logged at WARNING."""
    chains: Counter[str] = Counter()
    for task in asyncio.all_tasks():
        chains["\n".join(awaiting(task.get_coro()))] += 1
    report = "\n".join(f"--- {count} task(s):\n{chain}" for chain, count in chains.most_common())
    log.warning("asyncio tasks of this process (SIGUSR1):\n%s", report)
    return report


def awaiting(awaitable: Any) -> list[str]:
    """The frames from a task's coroutine down to what it waits on (``Task.get_stack`` stops at the
    first frame of a suspended coroutine)."""
    lines: list[str] = []
    for _ in range(64):  # a bound, not a depth any real chain reaches
        frame = next((getattr(awaitable, a) for a in _FRAMES if getattr(awaitable, a, None)), None)
        if frame is None:
            lines.append(f"  waiting on a {type(awaitable).__name__}")
            break
        lines.append(f"  {frame.f_code.co_filename}:{frame.f_lineno} in {frame.f_code.co_name}")
        awaitable = next((getattr(awaitable, a) for a in _AWAITS if getattr(awaitable, a, None)), None)
        if awaitable is None:
            break
    return lines


_FRAMES = ("cr_frame", "ag_frame", "gi_frame")
_AWAITS = ("cr_await", "ag_await", "gi_yieldfrom")
