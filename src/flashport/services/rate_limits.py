"""Rate limits on the doors a rush pushes on (log-in, registration, buying, checkout, paying) and the
log-in lockout (README, "Rate limits").

Each door has two token buckets, one per account and one per address; a request takes a token from
both or is refused with 429 ``rate_limited`` and ``Retry-After``. Failed log-ins slow an e-mail address
down and then lock it (:class:`~flashport.domain.rate_limits.LoginLockout`); a locked address is
refused with 429 ``login_locked`` before the password is looked at, so a lock costs no password hash
and answers alike, and as fast, whether or not an account has that address.

Failure policy: when the limiter's store (Redis) is unreachable the buckets let requests through
(logged: a Redis outage must not take log-in and checkout down, and buying fails closed on its own),
but the lockout refuses log-ins with 503, so password guessing never goes unchecked.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime

from flashport.adapters.ratelimit.interface import RateLimiter
from flashport.domain.errors import RateLimited, ServiceUnavailable, Unauthenticated
from flashport.domain.rate_limits import Action, Bucket, LoginLockout, retry_after
from flashport.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Door:
    """One door's two buckets and the key prefixes of its counters."""

    per_account: Bucket
    per_address: Bucket
    account_prefix: str
    address_prefix: str


@dataclass(frozen=True)
class RateLimits:
    """The limiter and the thresholds from settings, parsed once per process."""

    limiter: RateLimiter
    doors: dict[Action, Door]
    lockout: LoginLockout
    enabled: bool = True

    @classmethod
    def from_settings(cls, settings: Settings, limiter: RateLimiter) -> RateLimits:
        doors = {
            action: Door(
                Bucket.parse(getattr(settings, f"rate_{action.value}_account")),
                Bucket.parse(getattr(settings, f"rate_{action.value}_address")),
                f"{action.value}:account:",
                f"{action.value}:address:",
            )
            for action in Action
        }
        lockout = LoginLockout(
            slow_after=settings.login_slow_after_failures,
            lock_after=settings.login_lock_after_failures,
            lock=settings.login_lock_seconds,
            relock=settings.login_relock_seconds,
            window=settings.login_failure_window_seconds,
        )
        return cls(limiter, doors, lockout, settings.rate_limits)

    async def check(
        self, action: Action, now: datetime, *, account: object | None, address: str | None
    ) -> None:
        """Take a token from the account's and the address's bucket of ``action``, or raise
        ``RateLimited``. ``account``: the user id, or for log-in and registration the e-mail address;
        ``address``: the client's IP address. Either may be None (not known): its bucket is skipped."""
        if not self.enabled:
            return
        door = self.doors[action]
        buckets: list[tuple[str, Bucket]] = []
        if account is not None:
            buckets.append((f"{door.account_prefix}{account}", door.per_account))
        if address:
            buckets.append((door.address_prefix + address, door.per_address))
        if not buckets:
            return
        try:
            wait = await self.limiter.take(buckets, now.timestamp())
        except ServiceUnavailable:
            log.warning("rate limiter unreachable: %s let through unchecked", action.value)
            return
        if wait:
            seconds = retry_after(wait)
            raise RateLimited(f"too many requests: try again in {seconds} s", retry_after=seconds)

    @asynccontextmanager
    async def login_attempt(
        self, clock: Callable[[], datetime], *, email: str, address: str | None
    ) -> AsyncIterator[None]:
        """Wrap one log-in: refused before the block runs when the e-mail address is locked or a bucket
        is empty; a ``bad_credentials`` failure inside it counts towards the lock, a success clears
        them."""
        if not self.enabled:
            yield
            return
        who = email.strip().lower()  # as log-in looks accounts up
        left = await self.limiter.locked_for(who, clock().timestamp())  # unreachable: 503, fail closed
        if left:
            raise _locked(left)
        await self.check(Action.LOGIN, clock(), account=who, address=address)
        try:
            yield
        except Unauthenticated as exc:
            if exc.code == "bad_credentials":
                await self.limiter.record_failure(who, clock().timestamp(), self.lockout)
            raise
        await self.limiter.clear_failures(who)


def _locked(seconds: float) -> RateLimited:
    wait = retry_after(seconds)
    return RateLimited(
        f"too many failed log-ins with this e-mail address: try again in {wait} s",
        retry_after=wait,
        code="login_locked",
    )
