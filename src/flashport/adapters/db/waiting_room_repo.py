"""SQL for the waiting room: rooms, places, the admission cursor and the bot-friction counters.

Every function takes a connection the caller's transaction owns and never commits. What must happen
once (the shuffle, dealing the next place) runs after :func:`lock_room`, an UPDATE of the room's row:
PostgreSQL holds that row lock to the commit and SQLite runs one writer at a time (BEGIN IMMEDIATE), so
two API processes can never deal the same place or shuffle twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from flashport.adapters.db.waiting_room_schema import waiting_room_places as places
from flashport.adapters.db.waiting_room_schema import waiting_rooms as rooms
from flashport.domain.waiting_room import Cursor, RoomTerms


@dataclass(frozen=True, slots=True)
class RoomRow:
    terms: RoomTerms
    enabled: bool
    cursor: Cursor | None  # None until the start's shuffle
    shuffled_at: datetime | None
    sold_mark: int | None
    sold_mark_at: datetime | None
    challenged: int
    passed: int


def _row(row: sa.Row[tuple[object, ...]]) -> RoomRow:
    m = row._mapping
    terms = RoomTerms(
        int(m["item_id"]),
        timedelta(seconds=m["opens_before_seconds"]),
        m["admit_per_second"],
        m["token_seconds"],
    )
    cursor = None
    if m["advanced_at"] is not None:
        cursor = Cursor(float(m["admitted"]), m["advanced_at"], float(m["rate"]), int(m["places"]))
    return RoomRow(
        terms, bool(m["enabled"]), cursor, m["shuffled_at"], m["sold_mark"], m["sold_mark_at"],
        int(m["challenged"]), int(m["passed"]),
    )  # fmt: skip


async def save_room(conn: AsyncConnection, terms: RoomTerms, rate: float, now: datetime) -> None:
    """Create the room, or change its terms and turn it back on (its queue and cursor stay: a new fixed
    rate reaches the cursor through the queue store's ``set_rate``)."""
    values = {
        "enabled": True,
        "opens_before_seconds": int(terms.opens_before.total_seconds()),
        "admit_per_second": terms.admit_per_second,
        "token_seconds": terms.token_seconds,
        "updated_at": now,
    }
    changed = await conn.execute(rooms.update().where(rooms.c.item_id == terms.item_id).values(**values))
    if changed.rowcount == 0:
        await conn.execute(rooms.insert().values(item_id=terms.item_id, rate=rate, created_at=now, **values))


async def disable_room(conn: AsyncConnection, item_id: int, now: datetime) -> bool:
    query = (
        rooms.update()
        .where(rooms.c.item_id == item_id, rooms.c.enabled)
        .values(enabled=False, updated_at=now)
    )
    return (await conn.execute(query)).rowcount > 0


async def hot_item_ids(conn: AsyncConnection) -> frozenset[int]:
    return frozenset((await conn.scalars(sa.select(rooms.c.item_id).where(rooms.c.enabled))).all())


async def room(conn: AsyncConnection, item_id: int) -> RoomRow | None:
    row = (await conn.execute(sa.select(rooms).where(rooms.c.item_id == item_id))).first()
    return _row(row) if row is not None else None


async def lock_room(conn: AsyncConnection, item_id: int, now: datetime) -> RoomRow | None:
    """The enabled room's row, locked to the end of the transaction (None: no such room)."""
    query = (
        rooms.update()
        .where(rooms.c.item_id == item_id, rooms.c.enabled)
        .values(updated_at=now)
        .returning(*rooms.c)
    )
    row = (await conn.execute(query)).first()
    return _row(row) if row is not None else None


async def save_cursor(
    conn: AsyncConnection, item_id: int, cursor: Cursor, sold_mark: int | None, sold_mark_at: datetime | None
) -> None:
    await conn.execute(
        rooms.update()
        .where(rooms.c.item_id == item_id)
        .values(
            admitted=cursor.admitted,
            advanced_at=cursor.at,
            rate=cursor.rate,
            places=cursor.places,
            sold_mark=sold_mark,
            sold_mark_at=sold_mark_at,
        )
    )


async def mark_shuffled(conn: AsyncConnection, item_id: int, now: datetime) -> None:
    await conn.execute(rooms.update().where(rooms.c.item_id == item_id).values(shuffled_at=now))


async def pre_queue(conn: AsyncConnection, item_id: int) -> list[int]:
    """The entries waiting for the shuffle, in order of arrival."""
    query = sa.select(places.c.id).where(places.c.item_id == item_id, places.c.place.is_(None))
    return list((await conn.scalars(query.order_by(places.c.id))).all())


async def deal_places(conn: AsyncConnection, dealt: Mapping[int, int]) -> None:
    if dealt:
        statement = (
            places.update().where(places.c.id == sa.bindparam("entry")).values(place=sa.bindparam("dealt"))
        )
        await conn.execute(statement, [{"entry": e, "dealt": p} for e, p in dealt.items()])


async def place_of(conn: AsyncConnection, item_id: int, buyer_id: int) -> tuple[int, int | None] | None:
    """(arrival, place) of a buyer's entry; place None while in the pre-queue."""
    query = sa.select(places.c.id, places.c.place).where(
        places.c.item_id == item_id, places.c.buyer_id == buyer_id
    )
    row = (await conn.execute(query)).first()
    return (int(row.id), row.place) if row is not None else None


async def joined_of(conn: AsyncConnection, item_id: int, buyer_ids: list[int]) -> set[int]:
    """Which of ``buyer_ids`` hold a place in the room already."""
    query = sa.select(places.c.buyer_id).where(places.c.item_id == item_id, places.c.buyer_id.in_(buyer_ids))
    return {int(b) for b in (await conn.scalars(query)).all()}


async def add_places(
    conn: AsyncConnection, item_id: int, entries: list[tuple[int, str | None, int | None]], now: datetime
) -> None:
    """Places for (buyer, address, place) in order of arrival, in one statement."""
    if entries:
        rows = [
            {"item_id": item_id, "buyer_id": b, "address": a, "place": p, "joined_at": now}
            for b, a, p in entries
        ]
        await conn.execute(places.insert(), rows)


async def from_address(conn: AsyncConnection, item_id: int, address: str, since: datetime) -> tuple[int, int]:
    """How many buyers joined this room from ``address``: in all, and since ``since``."""
    query = sa.select(sa.func.count(), sa.func.count().filter(places.c.joined_at >= since)).where(
        places.c.item_id == item_id, places.c.address == address
    )
    row = (await conn.execute(query)).one()
    return int(row[0]), int(row[1] or 0)


async def count_friction(
    conn: AsyncConnection, item_id: int, *, challenged: int = 0, passed: int = 0
) -> None:
    await conn.execute(
        rooms.update()
        .where(rooms.c.item_id == item_id)
        .values(challenged=rooms.c.challenged + challenged, passed=rooms.c.passed + passed)
    )


async def queue_counts(conn: AsyncConnection, item_id: int) -> tuple[int, int]:
    """(buyers in the room, of them still in the pre-queue)."""
    query = sa.select(sa.func.count(), sa.func.count().filter(places.c.place.is_(None))).where(
        places.c.item_id == item_id
    )
    row = (await conn.execute(query)).one()
    return int(row[0]), int(row[1] or 0)


async def arrivals_and_places(conn: AsyncConnection, item_id: int) -> list[tuple[int, int, datetime]]:
    """Every dealt entry: (arrival, place, joined at), for fairness reports."""
    query = sa.select(places.c.id, places.c.place, places.c.joined_at).where(
        places.c.item_id == item_id, places.c.place.is_not(None)
    )
    return [(int(r.id), int(r.place), r.joined_at) for r in await conn.execute(query.order_by(places.c.id))]
