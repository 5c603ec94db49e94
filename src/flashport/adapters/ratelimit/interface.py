"""What every rate limiter guarantees, whichever keeps the counters (Redis, or this process on the
embedded default).

- :meth:`RateLimiter.take` is atomic across every process that shares the limiter: all the buckets of
  one request take a token, or none does.
- Keys expire on their own: a bucket once full again, failures ``lockout.window`` after the last one,
  a lock when it ends. Nothing needs sweeping by hand.
- Time is the caller's (``now`` in seconds since the epoch), so tests move a clock instead of waiting.

Failure policy: a limiter that cannot reach its store raises ``ServiceUnavailable``; the caller
decides (``services/rate_limits.py``: buckets let the request through, the log-in lockout refuses it).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Sequence

from flashport.domain.rate_limits import Bucket, LoginLockout


class RateLimiter(ABC):
    name: str

    @abstractmethod
    def take(self, buckets: Sequence[tuple[str, Bucket]], now: float) -> Awaitable[float]:
        """One token from each ``(key, bucket)``: 0.0 when all had one (and each lost it), otherwise
        the seconds until all will have one again (and none lost one)."""

    @abstractmethod
    async def locked_for(self, key: str, now: float) -> float:
        """Seconds left of the lock on ``key`` (0.0: not locked)."""

    @abstractmethod
    async def record_failure(self, key: str, now: float, lockout: LoginLockout) -> float:
        """Count one more failure for ``key`` and lock it as ``lockout`` says; the seconds it is now
        locked for (a longer lock already in place is kept)."""

    @abstractmethod
    async def clear_failures(self, key: str) -> None:
        """Forget the failures of ``key`` (after a success); a lock in place stays until it ends."""

    async def close(self) -> None:
        return None
