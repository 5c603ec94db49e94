"""Every API process's list of ended sessions: for each user whose session version was raised (log-out,
password change, deactivation), the lowest version still open. Checking a token against it is a dict
lookup, so the buy path makes no database call for it.

How the list learns of a raise, and how stale it may be:
- the process that raised the version applies it at once;
- with Redis, every process hears it at once on the channel ``{prefix}:sessions``;
- every process also reads the raises logged in ``session_revocations`` every
  ``FLASHPORT_SESSION_POLL_SECONDS`` (1 s by default). This is the embedded default's only feed and the
  fallback for a message lost while Redis was away, so a token is refused everywhere at most one poll
  interval (plus a commit) after its session ended.

It also answers the one question a process asks the database about a token's user, the first time it
meets that user off the buy path: does the user exist, is the account active, what is its session
version (``standing``). The lookups arriving while one read runs share the next read, one query for
all of them: a crowd's first requests (a sale opening, every buyer joining its waiting room) cost a
few reads, not a pooled connection each.

Failure policy: if the database cannot be read the list keeps what it knows and the next poll tries
again (an ended session might then be honoured for longer; every poll failure is logged). Redis being
down costs only the fast path: the poll still runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from flashport.adapters.db import accounts_repo
from flashport.adapters.db.engine import reading
from flashport.adapters.redis_client import RedisClient

log = logging.getLogger(__name__)

# A raise committed just before a poll began may carry an earlier created_at than the poll's start:
# each poll reads back this far past the previous one (applying a raise twice changes nothing).
POLL_OVERLAP = timedelta(seconds=30)
MAX_KNOWN_USERS = 100_000
STANDINGS_PER_READ = 1_000  # user ids in one read of their standing


class RevocationList:
    def __init__(self, engine: AsyncEngine, *, poll_seconds: float, keep: timedelta) -> None:
        self._engine = engine
        self._poll_seconds = poll_seconds
        self._keep = keep  # a token lifetime: older raises concern only expired tokens
        self._floors: dict[int, int] = {}
        self._known: set[int] = set()  # users looked up and found active (see ``knows``)
        self._redis: RedisClient | None = None
        self._channel = ""
        self._tasks: list[asyncio.Task[None]] = []
        self._since: datetime | None = None
        self._lookups: dict[int, asyncio.Future[tuple[bool, int] | None]] = {}
        self._looking: asyncio.Task[None] | None = None

    def is_open(self, user_id: int, version: int) -> bool:
        """Whether a token of ``version`` for ``user_id`` still opens a session."""
        return user_id > 0 and version >= self._floors.get(user_id, 0)

    def apply(self, user_id: int, min_version: int) -> None:
        if min_version > self._floors.get(user_id, 0):
            self._floors[user_id] = min_version
        self._known.discard(user_id)

    def knows(self, user_id: int) -> bool:
        """Whether the user was already found to exist and be active (off the buy path, a token's user
        is looked up once per process; later changes reach the list as raises)."""
        return user_id in self._known

    def remember(self, user_id: int) -> None:
        if len(self._known) >= MAX_KNOWN_USERS:
            self._known.clear()
        self._known.add(user_id)

    async def standing(self, user_id: int) -> tuple[bool, int] | None:
        """(active, session version) of the user, None if there is no such user. Lookups of a moment
        share one read (the same user's too); a caller cancelled while it waits cancels nobody else's."""
        found = self._lookups.get(user_id)
        if found is None:
            found = asyncio.get_running_loop().create_future()
            self._lookups[user_id] = found
            if self._looking is None:
                self._looking = asyncio.create_task(self._read_standings())
        return await asyncio.shield(found)

    async def _read_standings(self) -> None:
        try:
            while self._lookups:
                ids = list(self._lookups)[:STANDINGS_PER_READ]
                waiting = {user_id: self._lookups.pop(user_id) for user_id in ids}
                try:
                    async with reading(self._engine) as conn:
                        found = await accounts_repo.user_standings(conn, ids)
                except Exception as exc:  # each waiting request fails with the read's error
                    for future in waiting.values():
                        future.set_exception(exc)
                        future.exception()  # retrieved: a caller that went away logs nothing
                    continue
                for user_id, future in waiting.items():
                    future.set_result(found.get(user_id))
        finally:
            self._looking = None

    def use_redis(self, client: RedisClient, prefix: str) -> None:
        self._redis, self._channel = client, f"{prefix}:sessions"

    async def publish(self, user_id: int, min_version: int) -> None:
        """Apply a raise here and tell the other processes (after its transaction committed)."""
        self.apply(user_id, min_version)
        if self._redis is None:
            return
        try:
            await self._redis.publish(self._channel, f"{user_id}:{min_version}")
        except (RedisError, OSError):
            log.warning("could not publish a session revocation; the others poll it", exc_info=True)

    async def poll(self, now: datetime) -> None:
        """Read the raises logged since the previous poll (the first poll: within a token lifetime)."""
        since = now - self._keep if self._since is None else self._since - POLL_OVERLAP
        async with reading(self._engine) as conn:
            raised = await accounts_repo.revocations_since(conn, since)
        for user_id, min_version in raised:
            self.apply(user_id, min_version)
        self._since = now

    def start(self, clock: Callable[[], datetime]) -> None:
        """Follow the raises in the background (the app's lifespan): the poll, and Redis if set."""
        self._tasks.append(asyncio.create_task(self._poll_forever(clock)))
        if self._redis is not None:
            self._tasks.append(asyncio.create_task(self._listen_forever()))

    async def _poll_forever(self, clock: Callable[[], datetime]) -> None:
        while True:
            try:
                await self.poll(clock())
            except (SQLAlchemyError, OSError):
                log.warning("could not read session revocations; retrying", exc_info=True)
            await asyncio.sleep(self._poll_seconds)

    async def _listen_forever(self) -> None:
        assert self._redis is not None
        while True:
            try:
                async with self._redis.pubsub() as pubsub:
                    await pubsub.subscribe(self._channel)
                    async for message in pubsub.listen():
                        if message.get("type") == "message":
                            user_id, _, min_version = bytes(message["data"]).decode().partition(":")
                            self.apply(int(user_id), int(min_version))
            except (RedisError, OSError, ValueError):
                log.warning("session revocation listener lost Redis; retrying in 1 s", exc_info=True)
                await asyncio.sleep(1)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
