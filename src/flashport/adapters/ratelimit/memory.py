"""The rate limiter of the embedded default: counters in this process's memory.

With several API processes each keeps its own counters, so a client spread over them gets up to that
many times the limit; the embedded default runs one process. Deployments with Redis share counters
(``redis.py``).
"""

from __future__ import annotations

from collections.abc import Sequence

from flashport.adapters.ratelimit.interface import RateLimiter
from flashport.domain.rate_limits import Bucket, LoginLockout, take

SWEEP_AT = 10_000  # keys held before the full buckets are dropped (then again at twice what is left)


class InProcessLimiter(RateLimiter):
    name = "memory"

    def __init__(self) -> None:
        self._tats: dict[str, float] = {}  # bucket key -> theoretical arrival time of its next request
        self._sweep_at = SWEEP_AT
        self._failures: dict[str, tuple[int, float]] = {}  # key -> (failures, forgotten at)
        self._locks: dict[str, float] = {}  # key -> locked until

    async def take(self, buckets: Sequence[tuple[str, Bucket]], now: float) -> float:
        tats = self._tats
        wait = 0.0
        new: list[tuple[str, float]] = []
        for key, bucket in buckets:
            tat, key_wait = take(tats.get(key), now, bucket)
            wait = max(wait, key_wait)
            new.append((key, tat))
        if wait:
            return wait
        tats.update(new)
        if len(tats) >= self._sweep_at:
            self._sweep(now)
        return 0.0

    def _sweep(self, now: float) -> None:
        """A bucket whose TAT has passed is full: the same as no key at all."""
        self._tats = {key: tat for key, tat in self._tats.items() if tat > now}
        self._sweep_at = max(SWEEP_AT, 2 * len(self._tats))
        self._failures = {k: v for k, v in self._failures.items() if v[1] > now}
        self._locks = {k: until for k, until in self._locks.items() if until > now}

    async def locked_for(self, key: str, now: float) -> float:
        return max(0.0, self._locks.get(key, 0.0) - now)

    async def record_failure(self, key: str, now: float, lockout: LoginLockout) -> float:
        count, forgotten_at = self._failures.get(key, (0, 0.0))
        count = count + 1 if forgotten_at > now else 1
        self._failures[key] = (count, now + lockout.window)
        until = max(self._locks.get(key, 0.0), now + lockout.wait_after(count))
        if until > now:
            self._locks[key] = until
        return max(0.0, until - now)

    async def clear_failures(self, key: str) -> None:
        self._failures.pop(key, None)
