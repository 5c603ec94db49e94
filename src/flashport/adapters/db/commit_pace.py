"""How a group committer paces itself: how many transactions it keeps in flight, and how long a batch
lingers for late arrivals before it is written.

A fixed pace is a compromise. Few transactions in flight and a linger make big, cheap batches, which is
what a rush of thousands needs; but with a few dozen buyers the same settings keep each one waiting for a
free transaction and then for the linger, so the rate falls with the crowd (issue 19, point 6: 64
connections sold 40 % fewer units a second than 256). :class:`AdaptivePace` picks the pace from what it
observes:

- the arrival rate of items (an exponentially weighted average over ``memory`` seconds), and
- how long one transaction takes (the same kind of average over the last commits).

Their product, the *crowd*, is how many items arrive while one transaction is being written. Below
``crowd / 4`` nothing waits: every transaction slot is open and no batch lingers, so a lone buyer commits
at once. At ``crowd`` and above the committer batches its most: ``min_in_flight`` transactions and the
full linger. In between, both move in proportion. Every input comes through :meth:`arrived` and
:meth:`committed` and the time from an injected clock, so the controller is tested without sleeping.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Protocol

SAMPLE_SECONDS = 0.01  # arrivals are counted over at least this long before the rate moves
COMMIT_WEIGHT = 0.2  # each commit's share in the average transaction time


class Pace(Protocol):
    def arrived(self, count: int = 1) -> None: ...

    def committed(self, size: int, seconds: float) -> None: ...

    def in_flight(self) -> int:
        """How many transactions may be in flight now."""
        ...

    def linger(self, gathered: int) -> float:
        """Seconds a batch of ``gathered`` items waits for late arrivals before it is written."""
        ...


class FixedPace:
    """The same pace whatever the load (SQLite's single writer, the settlements' committer)."""

    def __init__(self, in_flight: int, linger: float = 0.0) -> None:
        if in_flight < 1 or linger < 0:
            raise ValueError(f"in_flight must be >= 1 and linger >= 0, not {in_flight} and {linger}")
        self._in_flight = in_flight
        self._linger = linger

    def arrived(self, count: int = 1) -> None:
        pass

    def committed(self, size: int, seconds: float) -> None:
        pass

    def in_flight(self) -> int:
        return self._in_flight

    def linger(self, gathered: int) -> float:
        return self._linger


class AdaptivePace:
    def __init__(
        self,
        *,
        max_in_flight: int,
        max_linger: float = 0.0,
        crowd: int = 64,
        min_in_flight: int | None = None,
        memory: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        low = min(2, max_in_flight) if min_in_flight is None else min_in_flight
        if not 1 <= low <= max_in_flight:
            raise ValueError(f"need 1 <= min_in_flight <= max_in_flight, not {low} and {max_in_flight}")
        if max_linger < 0 or crowd < 4 or memory <= 0:
            raise ValueError("max_linger must be >= 0, crowd >= 4 and memory > 0")
        self.max_in_flight = max_in_flight
        self.min_in_flight = low
        self.max_linger = max_linger
        self.crowd = crowd
        self._quiet = crowd / 4
        self._memory = memory
        self._clock = clock
        self._rate = 0.0  # items a second
        self._commit_seconds = 0.0
        self._counted = 0
        self._since = clock()

    def arrived(self, count: int = 1) -> None:
        self._counted += count
        self._update_rate()

    def committed(self, size: int, seconds: float) -> None:
        if self._commit_seconds == 0.0:
            self._commit_seconds = seconds
        else:
            self._commit_seconds += COMMIT_WEIGHT * (seconds - self._commit_seconds)

    @property
    def rate(self) -> float:
        """Items arriving a second, as last averaged."""
        return self._rate

    @property
    def commit_seconds(self) -> float:
        return self._commit_seconds

    def expected_crowd(self) -> float:
        """Items expected to arrive while one transaction is written."""
        self._update_rate()
        return self._rate * self._commit_seconds

    def pressure(self) -> float:
        """0 when nothing should wait, 1 when the committer should batch its most."""
        crowd = self.expected_crowd()
        return min(1.0, max(0.0, (crowd - self._quiet) / (self.crowd - self._quiet)))

    def in_flight(self) -> int:
        spread = self.max_in_flight - self.min_in_flight
        return self.max_in_flight - math.floor(spread * self.pressure())

    def linger(self, gathered: int) -> float:
        if gathered >= self.crowd:  # the batch is as big as lingering would make it
            return 0.0
        return self.max_linger * self.pressure()

    def _update_rate(self) -> None:
        """Fold the arrivals counted since the last sample into the average, once a sample is long enough.
        A long silence is one long sample of few arrivals, so the rate has fallen when the next buyer
        comes, and that buyer is not kept waiting by the memory of a rush long gone."""
        now = self._clock()
        elapsed = now - self._since
        if elapsed < SAMPLE_SECONDS:
            return
        weight = 1.0 - math.exp(-elapsed / self._memory)
        self._rate += weight * (self._counted / elapsed - self._rate)
        self._counted = 0
        self._since = now
