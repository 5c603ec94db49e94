"""The waiting room's queue in the database (``waiting_room_repo``): the embedded default, and
PostgreSQL without Redis. What must happen once (the shuffle, dealing the next place) runs on the room's
locked row (``repo.lock_room``), so several API processes can share one room. A batch of joins is one
short transaction."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from flashport.adapters.db import waiting_room_repo as repo
from flashport.adapters.db.engine import reading
from flashport.adapters.waiting_room.interface import (
    CHALLENGE,
    HELD,
    WRONG,
    Answer,
    Arrival,
    JoinAsk,
    QueueStore,
    RoomState,
)
from flashport.domain.waiting_room import (
    Cursor,
    FrictionPolicy,
    RatePolicy,
    RoomTerms,
    Suspicion,
    rederive,
    shuffled_places,
)


class SqlQueueStore(QueueStore):
    name = "sql"

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def advance(
        self, item_id: int, starts_at: datetime, remaining: int | None, rates: RatePolicy, now: datetime
    ) -> tuple[RoomTerms, Cursor | None] | None:
        async with self._engine.begin() as conn:
            row = await repo.lock_room(conn, item_id, now)
            if row is None:
                return None
            cursor = await _started(conn, row, starts_at, rates, now)
            mark, mark_at = row.sold_mark, row.sold_mark_at
            if cursor is not None:
                cursor = cursor.advanced(now)
                if row.terms.admit_per_second is None and remaining is not None:
                    cursor, mark, mark_at = rederive(cursor, remaining, mark, mark_at, now, rates)
                await repo.save_cursor(conn, item_id, cursor, mark, mark_at)
        return row.terms, cursor

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
        outcomes: list[int] = []
        entries: list[tuple[int, str | None, int | None]] = []
        challenged = passed = 0
        async with self._engine.begin() as conn:
            row = await repo.lock_room(conn, item_id, now)
            if row is None:
                return None
            cursor = await _started(conn, row, starts_at, rates, now)
            cursor = cursor.advanced(now) if cursor is not None else None
            joined = await repo.joined_of(conn, item_id, [ask.buyer_id for ask in asks])
            for ask in asks:
                if ask.buyer_id in joined:  # one place per buyer (a repeat in this batch too)
                    outcomes.append(HELD)
                    continue
                if ask.address is not None and friction is not None:
                    await repo.add_places(conn, item_id, entries, now)  # the suspicion counts them
                    entries.clear()
                    verdict = await _judged(conn, item_id, ask, friction, now)
                    if verdict in (CHALLENGE, WRONG):
                        challenged += verdict == CHALLENGE
                        outcomes.append(verdict)
                        continue
                    passed += verdict == 1
                place = None
                if cursor is not None:
                    cursor = Cursor(cursor.admitted, cursor.at, cursor.rate, cursor.places + 1)
                    place = cursor.places
                entries.append((ask.buyer_id, ask.address, place))
                joined.add(ask.buyer_id)
                outcomes.append(place or 0)
            await repo.add_places(conn, item_id, entries, now)
            if cursor is not None:
                await repo.save_cursor(conn, item_id, cursor, row.sold_mark, row.sold_mark_at)
            if challenged or passed:
                await repo.count_friction(conn, item_id, challenged=challenged, passed=passed)
        return outcomes

    async def place_of(self, item_id: int, buyer_id: int) -> int | None:
        async with reading(self._engine) as conn:
            found = await repo.place_of(conn, item_id, buyer_id)
        return None if found is None else int(found[1] or 0)

    async def state(self, item_id: int, now: datetime) -> RoomState:
        async with reading(self._engine) as conn:
            row = await repo.room(conn, item_id)
            queued, pre_queue = await repo.queue_counts(conn, item_id)
        if row is None:
            return RoomState(None, None, queued, pre_queue, 0, 0)
        return RoomState(row.cursor, row.shuffled_at, queued, pre_queue, row.challenged, row.passed)

    async def set_rate(self, item_id: int, rate: float, now: datetime) -> None:
        async with self._engine.begin() as conn:
            row = await repo.lock_room(conn, item_id, now)
            if row is None or row.cursor is None:
                return  # the shuffle starts the cursor at the terms' rate
            moved = row.cursor.advanced(now)
            cursor = Cursor(moved.admitted, moved.at, rate, moved.places)
            await repo.save_cursor(conn, item_id, cursor, row.sold_mark, row.sold_mark_at)

    async def arrivals(self, item_id: int) -> list[Arrival]:
        async with reading(self._engine) as conn:
            entries = await repo.arrivals_and_places(conn, item_id)
            row = await repo.room(conn, item_id)
        shuffled = row.shuffled_at if row is not None else None
        ordered = sorted(entries)
        return [
            Arrival(n, place, shuffled is not None and joined < shuffled)
            for n, (_, place, joined) in enumerate(ordered)
        ]


async def _started(
    conn: AsyncConnection, row: repo.RoomRow, starts_at: datetime, rates: RatePolicy, now: datetime
) -> Cursor | None:
    """The room's cursor; at the first look after the start, the pre-queue is dealt its places."""
    if row.cursor is not None or now < starts_at:
        return row.cursor
    entries = await repo.pre_queue(conn, row.terms.item_id)
    await repo.deal_places(conn, shuffled_places(entries))
    await repo.mark_shuffled(conn, row.terms.item_id, now)
    return Cursor(0.0, now, row.terms.admit_per_second or rates.start, len(entries))


async def _judged(
    conn: AsyncConnection, item_id: int, ask: JoinAsk, friction: FrictionPolicy, now: datetime
) -> int:
    """1: looked automated and answered right; 0: did not look automated; else CHALLENGE or WRONG."""
    assert ask.address is not None
    since = now - timedelta(seconds=friction.burst_seconds)
    total, recent = await repo.from_address(conn, item_id, ask.address, since)
    if not Suspicion(total, recent).looks_automated(
        max_accounts=friction.max_accounts, max_burst=friction.max_burst
    ):
        return 0
    if ask.answer is Answer.NONE:
        return CHALLENGE
    return 1 if ask.answer is Answer.RIGHT else WRONG
