"""The buy deadline for every purchase in flight, on one timer per tick.

``asyncio.timeout`` around each purchase costs a context manager, a timer pushed on the loop's heap and
its cancellation: some 5 us of a purchase's 150 us of API CPU, for a deadline (4 s) that a healthy sale
never meets. Here the purchases in flight are grouped by the tick their deadline falls in, each tick has
one timer, and a purchase costs a set insertion and removal. A deadline strikes up to one tick early
(never late: a deadline shorter than a tick strikes at the loop's next turn).

Semantics are ``asyncio.timeout``'s: when its deadline passes, the purchase's task is cancelled; the
cancellation reaches :meth:`Deadlines.expired` in the purchase's ``except CancelledError``, which says
whether it was this deadline's own (and withdraws it) or someone else's (the client went away, the
server stops), which must go on.
"""

from __future__ import annotations

import asyncio
import math

TICK_SECONDS = 0.05


Due = tuple[asyncio.AbstractEventLoop, int]  # a loop (each process has one; tests have several) and a tick


class Deadlines:
    def __init__(self, tick: float = TICK_SECONDS) -> None:
        self._tick = tick
        self._due: dict[Due, set[asyncio.Task[object]]] = {}  # tasks in flight by when they are due
        self._fired: set[asyncio.Task[object]] = set()  # cancelled by a deadline, not yet told

    def watch(self, task: asyncio.Task[object], seconds: float) -> Due:
        """Start ``task``'s deadline, ``seconds`` from now; give what it returns to :meth:`done`."""
        loop = task.get_loop()
        due = (loop, math.floor((loop.time() + seconds) / self._tick))
        tasks = self._due.get(due)
        if tasks is None:
            self._due[due] = tasks = set()
            loop.call_at(due[1] * self._tick, self._expire, due)
        tasks.add(task)
        return due

    def done(self, task: asyncio.Task[object], due: Due) -> None:
        tasks = self._due.get(due)
        if tasks is not None:
            tasks.discard(task)
        self._fired.discard(task)

    def expired(self, task: asyncio.Task[object], cancelling: int) -> bool:
        """In ``task``'s ``except CancelledError``: True when its deadline cancelled it and nothing else
        did (the cancellation is withdrawn, as ``asyncio.timeout`` does before raising TimeoutError);
        ``cancelling`` is ``task.cancelling()`` as it was at :meth:`watch`."""
        if task not in self._fired:
            return False
        self._fired.discard(task)
        return task.uncancel() <= cancelling

    def _expire(self, due: Due) -> None:
        for task in self._due.pop(due, ()):
            if not task.done():
                self._fired.add(task)
                task.cancel()

    def __len__(self) -> int:
        """Purchases in flight under a deadline (for tests)."""
        return sum(len(tasks) for tasks in self._due.values())
