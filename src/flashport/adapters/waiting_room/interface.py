"""Where a waiting room's queue lives (docs/waiting-room.md): the places, the pre-queue, the start's
shuffle, the admission cursor and the bot-friction counters. Two stores keep the same contract:

- ``sql.SqlQueueStore``: tables ``waiting_rooms`` and ``waiting_room_places`` (the embedded default,
  and PostgreSQL without Redis);
- ``redis.RedisQueueStore``: Lua scripts on keys under the deployment's prefix, each item's keys
  sharing the stock engine's hash tag (with ``FLASHPORT_REDIS_URL``).

The room's terms (and whether it is on) are the operator's and stay in the database with either store.

What every store guarantees, whichever of several API processes calls it:
- one place per buyer and room: a buyer who holds one gets ``HELD`` however often and wherever asked;
- the pre-queue is dealt its places once, by ``domain.shuffled_places`` (the operating system's
  cryptographic source); entries that arrive while a deal is being drawn make it draw again, never
  join a dealt room without a place;
- after the deal, places are handed out in order of arrival, 1 + the last one dealt;
- the cursor never goes back and never passes the last place dealt.

Failure policy: a store that cannot be reached raises (``ServiceUnavailable`` for Redis, the database's
error for SQL): the join or the refresh fails, the buyer retries; polls already served from a
process's memory go on. Purchases do not depend on the store (the admission token is checked without
it).
"""

from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from flashport.domain.waiting_room import Cursor, FrictionPolicy, RatePolicy, RoomTerms

# A join's outcome is a place (0: in the pre-queue, dealt at the start) or one of these.
HELD = -1  # the buyer already holds a place (look it up)
CHALLENGE = -2  # the address looks automated: answer a challenge first (counted as challenged)
WRONG = -3  # the address looks automated and the answer given is wrong


class Answer(enum.Enum):
    """What a join brought of a challenge, judged by the caller (the store does not know the keys)."""

    NONE = "0"
    RIGHT = "1"
    WRONG = "2"


@dataclass(frozen=True, slots=True)
class JoinAsk:
    buyer_id: int
    address: str | None
    answer: Answer = Answer.NONE


@dataclass(frozen=True, slots=True)
class RoomState:
    """A room's queue as stored: ``cursor`` None until the start's shuffle."""

    cursor: Cursor | None
    shuffled_at: datetime | None
    queued: int  # buyers holding a place
    pre_queue: int  # of them, waiting for the shuffle
    challenged: int
    passed: int


@dataclass(frozen=True, slots=True)
class Arrival:
    """One dealt place, for fairness reports: ``arrival`` counts from 0 in order of joining."""

    arrival: int
    place: int
    in_pre_queue: bool  # joined before the shuffle


class QueueStore(ABC):
    name: str

    @abstractmethod
    async def advance(
        self, item_id: int, starts_at: datetime, remaining: int | None, rates: RatePolicy, now: datetime
    ) -> tuple[RoomTerms, Cursor | None] | None:
        """Move the enabled room on to ``now``: deal the pre-queue its places once ``now`` passed
        ``starts_at``, move the cursor at its rate, re-derive an automatic rate from ``remaining``
        (the stock engine's units left). None: no enabled room for this item."""

    @abstractmethod
    async def join_batch(
        self,
        item_id: int,
        terms: RoomTerms,
        starts_at: datetime,
        asks: Sequence[JoinAsk],
        rates: RatePolicy,
        friction: FrictionPolicy | None,
        now: datetime,
    ) -> list[int] | None:
        """Take a place for each ask, in order (a place, ``HELD``, ``CHALLENGE`` or ``WRONG``), dealing
        the pre-queue first if the start passed. Only an ask with an address is judged for friction
        (``friction`` None: never); an ask counts the joins before it. ``terms`` are the caller's view
        of the room (a store may trust it instead of reading the database). None: no enabled room
        (the SQL store; the Redis store trusts the caller's view)."""

    @abstractmethod
    async def place_of(self, item_id: int, buyer_id: int) -> int | None:
        """The buyer's place (0: in the pre-queue; None: not in the room)."""

    @abstractmethod
    async def state(self, item_id: int, now: datetime) -> RoomState:
        """The queue's figures; the cursor as stored (the caller advances it to ``now`` if it wants)."""

    @abstractmethod
    async def set_rate(self, item_id: int, rate: float, now: datetime) -> None:
        """The operator set a fixed rate: the cursor moves on at the old rate to ``now``, then at this
        one (must be called after the terms are saved)."""

    @abstractmethod
    async def arrivals(self, item_id: int) -> list[Arrival]:
        """Every dealt place with its order of arrival (benchmarks' fairness report)."""
