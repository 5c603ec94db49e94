"""The waiting room's queue in Redis (with ``FLASHPORT_REDIS_URL``): a join is one script call per
batch, never a database write. Each item's keys share the stock engine's hash tag ``{item:ID}``, so
every script touches one Redis Cluster slot::

    <prefix>:{item:ID}:room             hash  admitted, at, rate, places (the cursor: domain Cursor),
                                              shuffled_at, pre_queue (entries dealt at the start),
                                              mark, mark_at (automatic rate), challenged, passed
    <prefix>:{item:ID}:places           hash  buyer id -> place (0: in the pre-queue)
    <prefix>:{item:ID}:arrivals         list  buyer ids in order of arrival
    <prefix>:{item:ID}:from:<address>   zset  buyer id -> when it joined from that address (ms)

Times are unix seconds written by ``repr(float)`` (the cursor's compare-and-set matches the text).
The room's terms and whether it is on stay in the database (the operator's, with their outbox
events); a refresh reads them there (one primary-key read per process and refresh), a join does not.

The shuffle: the process that first sees the start passed reads the pre-queue, draws the permutation
from the operating system's cryptographic source (``domain.shuffled_places``) and hands it to
``deal.lua``, which applies it only if the room was not dealt yet and the pre-queue is the one read (a
join that slipped in makes the caller draw again). So the permutation applied is drawn once, from the
whole pre-queue, whatever the number of processes.

Failure policy: Redis unreachable -> ``ServiceUnavailable`` (503) for joins and refreshes; a process
keeps serving polls of places it already knows. If Redis loses the keys, the queue is gone: buyers
read ``not_joined`` and join again (in arrival order); tokens already given stay valid to expiry.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from redis.exceptions import RedisError
from sqlalchemy.ext.asyncio import AsyncEngine

from flashport.adapters.db import waiting_room_repo as repo
from flashport.adapters.db.engine import reading
from flashport.adapters.redis_client import RedisClient
from flashport.adapters.waiting_room.interface import Arrival, JoinAsk, QueueStore, RoomState
from flashport.domain.errors import ServiceUnavailable
from flashport.domain.waiting_room import (
    Cursor,
    FrictionPolicy,
    RatePolicy,
    RoomTerms,
    rederive,
    shuffled_places,
)

SCRIPTS = Path(__file__).parent
DEAL_ATTEMPTS = 50  # draws of the shuffle before giving up (each lost only to a join slipping in)


def _unavailable(cause: BaseException) -> ServiceUnavailable:
    error = ServiceUnavailable("the waiting room's queue is unreachable", code="queue_unavailable")
    error.__cause__ = cause
    return error


def _seconds(moment: datetime) -> str:
    return repr(moment.timestamp())


def _moment(text: Any) -> datetime:
    return datetime.fromtimestamp(float(text), UTC)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class RedisQueueStore(QueueStore):
    name = "redis"

    def __init__(self, client: RedisClient, engine: AsyncEngine, *, prefix: str) -> None:
        self.redis = client
        self.prefix = prefix
        self._engine = engine
        self._join = client.register_script((SCRIPTS / "join.lua").read_text())
        self._deal = client.register_script((SCRIPTS / "deal.lua").read_text())
        self._move = client.register_script((SCRIPTS / "move.lua").read_text())
        self._rate = client.register_script((SCRIPTS / "rate.lua").read_text())
        self.join_calls = 0  # script calls made for joins, for tests

    def key(self, item_id: int, part: str) -> str:
        return f"{self.prefix}:{{item:{item_id}}}:{part}"

    def _keys(self, item_id: int) -> list[str]:
        return [self.key(item_id, "room"), self.key(item_id, "places"), self.key(item_id, "arrivals")]

    # -- the cursor -----------------------------------------------------------------------------------

    async def advance(
        self, item_id: int, starts_at: datetime, remaining: int | None, rates: RatePolicy, now: datetime
    ) -> tuple[RoomTerms, Cursor | None] | None:
        async with reading(self._engine) as conn:
            row = await repo.room(conn, item_id)
        if row is None or not row.enabled:
            return None
        try:
            room = await self._dealt(item_id, row.terms, starts_at, rates, now)
            if "at" not in room:
                return row.terms, None
            cursor = _cursor(room).advanced(now)
            mark = int(room["mark"]) if "mark" in room else None
            mark_at = _moment(room["mark_at"]) if "mark_at" in room else None
            if row.terms.admit_per_second is None and remaining is not None:
                cursor, mark, mark_at = rederive(cursor, remaining, mark, mark_at, now, rates)
            await self._move(
                keys=[self.key(item_id, "room")],
                args=[
                    room["at"], repr(cursor.admitted), _seconds(cursor.at), repr(cursor.rate),
                    "" if mark is None else mark, "" if mark_at is None else _seconds(mark_at),
                ],
            )  # fmt: skip
        except RedisError as exc:
            raise _unavailable(exc) from exc
        return row.terms, cursor  # another process may have moved it first: as good a view

    async def _dealt(
        self, item_id: int, terms: RoomTerms, starts_at: datetime, rates: RatePolicy, now: datetime
    ) -> dict[str, str]:
        """The room's hash, after dealing the pre-queue its places if the start passed."""
        room_key, _, arrivals_key = keys = self._keys(item_id)
        for _ in range(DEAL_ATTEMPTS):
            room = {_text(k): _text(v) for k, v in (await self.redis.hgetall(room_key)).items()}
            if "at" in room or now < starts_at:
                return room
            pre_queue = [int(b) for b in await self.redis.lrange(arrivals_key, 0, -1)]
            dealt = shuffled_places(pre_queue)
            order = sorted(dealt, key=dealt.__getitem__)
            rate = terms.admit_per_second or rates.start
            await self._deal(keys=keys, args=[_seconds(now), repr(rate), len(order), *order])
        raise ServiceUnavailable(
            "the queue's pre-queue kept changing while it was dealt", code="queue_unavailable"
        )

    async def set_rate(self, item_id: int, rate: float, now: datetime) -> None:
        try:
            await self._rate(keys=[self.key(item_id, "room")], args=[_seconds(now), repr(rate)])
        except RedisError as exc:
            raise _unavailable(exc) from exc

    # -- joins ----------------------------------------------------------------------------------------

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
        keys = self._keys(item_id)
        now_ms = int(now.timestamp() * 1000)
        since_ms = now_ms - int((friction.burst_seconds if friction else 0) * 1000)
        args: list[Any] = [
            now_ms, since_ms, friction.max_accounts if friction else 0,
            friction.max_burst if friction else 0, _seconds(now),
        ]  # fmt: skip
        address_keys: dict[str, int] = {}
        for ask in asks:
            index = 0
            if ask.address is not None:
                index = address_keys.get(ask.address, 0)
                if not index:
                    keys.append(self.key(item_id, f"from:{ask.address}"))
                    index = address_keys[ask.address] = len(keys)  # Lua counts from 1
            args += [ask.buyer_id, index, ask.answer.value]
        try:
            await self._dealt(item_id, terms, starts_at, rates, now)
            self.join_calls += 1
            return [int(n) for n in await self._join(keys=keys, args=args)]
        except RedisError as exc:
            raise _unavailable(exc) from exc

    async def place_of(self, item_id: int, buyer_id: int) -> int | None:
        try:
            found = await self.redis.hget(self.key(item_id, "places"), str(buyer_id))
        except RedisError as exc:
            raise _unavailable(exc) from exc
        return None if found is None else int(found)

    # -- figures --------------------------------------------------------------------------------------

    async def state(self, item_id: int, now: datetime) -> RoomState:
        room_key, places_key, arrivals_key = self._keys(item_id)
        try:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.hgetall(room_key)
                pipe.hlen(places_key)
                pipe.llen(arrivals_key)
                raw, queued, arrived = await pipe.execute()
        except RedisError as exc:
            raise _unavailable(exc) from exc
        room = {_text(k): _text(v) for k, v in raw.items()}
        cursor = _cursor(room) if "at" in room else None
        shuffled = _moment(room["shuffled_at"]) if "shuffled_at" in room else None
        pre_queue = 0 if cursor is not None else int(arrived)
        challenged, passed = int(room.get("challenged", 0)), int(room.get("passed", 0))
        return RoomState(cursor, shuffled, int(queued), pre_queue, challenged, passed)

    async def arrivals(self, item_id: int) -> list[Arrival]:
        room_key, places_key, arrivals_key = self._keys(item_id)
        try:
            arrived = await self.redis.lrange(arrivals_key, 0, -1)
            places = await self.redis.hgetall(places_key)
            dealt_early = await self.redis.hget(room_key, "pre_queue")
        except RedisError as exc:
            raise _unavailable(exc) from exc
        early = int(dealt_early or 0)
        found = (int(places.get(buyer, 0)) for buyer in arrived)
        return [Arrival(n, place, n < early) for n, place in enumerate(found) if place > 0]


def _cursor(room: dict[str, str]) -> Cursor:
    return Cursor(float(room["admitted"]), _moment(room["at"]), float(room["rate"]), int(room["places"]))
