"""The rate limiter with Redis: counters shared by every API process, under the deployment's prefix::

    <prefix>:{rl}:<action>:<scope>:<who>     str  a bucket's theoretical arrival time (ms), expiring
                                                  when the bucket is full again
    <prefix>:{rl}:login:failures:<email>     int  failed log-ins, expiring a window after the last
    <prefix>:{rl}:login:lock:<email>         str  when the lock ends (ms), expiring then

Every bucket check that arrives within one turn of the event loop goes to Redis in a single script
call (``take.lua``), the way the stock engine batches reservations: on the buy path that is one round
trip per loop turn for hundreds of purchases. The script reads and writes the keys of many buyers and
addresses at once, and a request's buckets must be judged together, so on a Redis Cluster every key
shares the hash tag ``{rl}``: the rate limits live in one slot, on one master (one script call per
process and loop turn is far below what one master serves; the stock is what a cluster spreads).

Time is the asking process's clock (so tests move it), taken when the check is made. A batch that
reaches Redis after a later one, by more than a bucket's period, can see the later batch's tokens as a
burst and be refused; keep periods well above the worst stall of a process (the defaults are 10 s or
more). Redis's own clock would avoid it, at the price of tests that wait.

Failure policy: Redis unreachable -> ``ServiceUnavailable``; the caller decides (see interface.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from redis.exceptions import RedisError

from flashport.adapters.ratelimit.interface import RateLimiter
from flashport.adapters.redis_client import RedisClient
from flashport.domain.errors import ServiceUnavailable
from flashport.domain.rate_limits import Bucket, LoginLockout

SCRIPTS = Path(__file__).parent
MAX_BATCH = 512  # requests per script call


def _unavailable(cause: BaseException | None) -> ServiceUnavailable:
    error = ServiceUnavailable("the rate limiter is unreachable", code="rate_limiter_unavailable")
    error.__cause__ = cause
    return error


class RedisRateLimiter(RateLimiter):
    name = "redis"

    def __init__(self, client: RedisClient, prefix: str) -> None:
        self.redis = client
        self.prefix = f"{prefix}:{{rl}}:"
        self._take = client.register_script((SCRIPTS / "take.lua").read_text())
        self._fail = client.register_script((SCRIPTS / "fail.lua").read_text())
        self._lock = client.register_script((SCRIPTS / "lock.lua").read_text())
        self._queued: list[tuple[Sequence[tuple[str, Bucket]], int, asyncio.Future[float]]] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self.calls = 0  # script calls made, for tests

    def take(self, buckets: Sequence[tuple[str, Bucket]], now: float) -> asyncio.Future[float]:
        """Queued for the next script call; a plain future rather than a coroutine, so the buy path
        pays for no coroutine object per purchase."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[float] = loop.create_future()
        if not self._queued:
            loop.call_soon(self._dispatch)
        self._queued.append((buckets, int(now * 1000), future))
        return future

    def _dispatch(self) -> None:
        queued, self._queued = self._queued, []
        for start in range(0, len(queued), MAX_BATCH):
            task = asyncio.create_task(self._take_batch(queued[start : start + MAX_BATCH]))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _take_batch(
        self, batch: list[tuple[Sequence[tuple[str, Bucket]], int, asyncio.Future[float]]]
    ) -> None:
        prefix = self.prefix
        keys: list[str] = []
        args: list[Any] = [max(now for _, now, _ in batch), len(batch)]
        for buckets, _, _ in batch:
            args.append(len(buckets))
            for key, bucket in buckets:
                keys.append(prefix + key)
                args += (bucket.interval * 1000, bucket.period * 1000)
        try:
            waits = await self._take(keys=keys, args=args)
            self.calls += 1
        except BaseException as exc:  # Redis down, or cancelled: no request may wait forever
            for _, _, future in batch:
                if not future.done():
                    future.set_exception(_unavailable(exc))
            if isinstance(exc, RedisError):
                return
            raise
        for (_, _, future), wait in zip(batch, waits, strict=True):
            if not future.done():
                future.set_result(int(wait) / 1000)

    async def locked_for(self, key: str, now: float) -> float:
        try:
            until = await self.redis.get(self.prefix + "login:lock:" + key)
        except RedisError as exc:
            raise _unavailable(exc) from exc
        return max(0.0, float(until) / 1000 - now) if until is not None else 0.0

    async def record_failure(self, key: str, now: float, lockout: LoginLockout) -> float:
        try:
            count = await self._fail(
                keys=[self.prefix + "login:failures:" + key], args=[int(lockout.window * 1000)]
            )
            wait = lockout.wait_after(int(count))
            if not wait:
                return await self.locked_for(key, now)
            now_ms = int(now * 1000)
            until = await self._lock(
                keys=[self.prefix + "login:lock:" + key], args=[now_ms, now_ms + int(wait * 1000)]
            )
        except RedisError as exc:
            raise _unavailable(exc) from exc
        return max(0.0, float(until) / 1000 - now)

    async def clear_failures(self, key: str) -> None:
        try:
            await self.redis.delete(self.prefix + "login:failures:" + key)
        except RedisError as exc:
            raise _unavailable(exc) from exc

    async def close(self) -> None:
        while self._tasks or self._queued:
            if self._tasks:
                await asyncio.gather(*list(self._tasks), return_exceptions=True)
            else:
                await asyncio.sleep(0)
