"""Rate limits and the log-in lockout as pure rules: what a token bucket allows, and how long an
account waits after its n-th failed log-in. Where the counters live is the rate limiter's business
(``adapters/ratelimit/``); which bucket guards which door is ``services/rate_limits.py``'s.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from enum import Enum

_BUCKET = re.compile(r"^\s*(\d+)\s*/\s*(\d+(?:\.\d+)?)\s*s?\s*$")


class Action(Enum):
    """The doors a crowd or a script pushes on hardest, each with its own buckets."""

    LOGIN = "login"
    REGISTER = "register"
    BUY = "buy"
    CHECKOUT = "checkout"
    PAY = "pay"


@dataclass(frozen=True, slots=True)
class Bucket:
    """A token bucket holding ``capacity`` tokens that refills from empty to full in ``period``
    seconds: a burst of ``capacity`` requests, then one every ``period / capacity`` seconds.

    It is kept as the generic cell rate algorithm (GCRA) keeps it, which allows exactly what such a
    bucket allows with one number per key: the theoretical arrival time (TAT) of the next request.
    A bucket is full again, and its key can go, once the TAT has passed."""

    capacity: int
    period: float

    @property
    def interval(self) -> float:
        """Seconds one token takes to come back."""
        return self.period / self.capacity

    @classmethod
    def parse(cls, text: str) -> Bucket:
        """``"10/60"``: 10 requests at once, refilled over 60 seconds (an ``s`` after it is allowed)."""
        match = _BUCKET.match(text)
        if match is None:
            raise ValueError(f"{text!r} is not a bucket: write capacity/seconds, e.g. 10/60")
        capacity, period = int(match.group(1)), float(match.group(2))
        if capacity < 1 or period <= 0:
            raise ValueError(f"{text!r}: capacity must be at least 1 and seconds above 0")
        return cls(capacity, period)


def take(tat: float | None, now: float, bucket: Bucket) -> tuple[float, float]:
    """One request against a bucket whose stored TAT is ``tat`` (None: full). Answers ``(new_tat,
    wait)``: ``wait == 0`` means allowed and ``new_tat`` is to be stored; otherwise refused, nothing is
    to change, and ``wait`` is how many seconds until a token is back."""
    start = now if tat is None or tat < now else tat
    new_tat = start + bucket.interval
    wait = new_tat - now - bucket.period
    return (new_tat, 0.0) if wait <= 1e-9 else (new_tat, wait)


def retry_after(seconds: float) -> int:
    """Whole seconds for a ``Retry-After`` header: never 0 while a wait remains."""
    return max(1, math.ceil(seconds - 1e-9))


@dataclass(frozen=True, slots=True)
class LoginLockout:
    """Failed log-ins slow an account down, then lock it. Failures are counted per e-mail address as
    typed (normalised), whether or not an account has it, so the answer tells nothing about which
    addresses exist; a success clears them, and they are forgotten ``window`` seconds after the last.

    After failure n the next attempt must wait: nothing before ``slow_after`` failures; then 1, 2,
    4... seconds; ``lock`` seconds at ``lock_after`` failures; ``relock`` seconds after every failure
    beyond that."""

    slow_after: int = 3
    lock_after: int = 5
    lock: float = 300.0
    relock: float = 900.0
    window: float = 3600.0

    def wait_after(self, failures: int) -> float:
        if failures < self.slow_after:
            return 0.0
        if failures < self.lock_after:
            return float(2 ** (failures - self.slow_after))
        return self.lock if failures == self.lock_after else self.relock
