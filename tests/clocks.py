"""Clocks a test moves by hand, for code that takes its "now" as a parameter, so no test waits for time to
pass or depends on how fast the machine is."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class ShiftedClock:
    """Real UTC time plus an offset the test moves forward with :meth:`advance`.

    Time keeps running, so what a component schedules in real time (a notification retry, say) still
    happens; a jump makes deadlines pass at once, the way an hour going by would.
    """

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, by: timedelta) -> None:
        self.offset += by


class ManualTimer:
    """A monotonic clock in seconds that stands still until the test calls :meth:`advance` (for caches
    that take a ``clock: Callable[[], float]``, as ``time.monotonic`` is)."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
