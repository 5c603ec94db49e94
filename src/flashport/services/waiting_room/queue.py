"""The buyer's side of the waiting room (docs/waiting-room.md): join, poll, be admitted, and the check
of the admission token on the buy path.

- **Join** (once per buyer and room; a second join returns the same place). Before the start the buyer
  enters the pre-queue with no place yet; at the start the pre-queue is shuffled (domain
  ``shuffled_places``); later arrivals take the next place. A join from an address that looks automated
  must first answer a proof-of-work challenge.
- **Poll**: position, estimated wait, and once admitted a signed token valid ``token_seconds``. Served
  from this process's view of the room (``state.WaitingRooms``): a poll makes no database call once the
  buyer's place is known.
- **Sold out**: when the stock engine has no unit left, every poll says so at once and points at the
  item page's waitlist.
"""

from __future__ import annotations

import asyncio
import enum
import math
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncConnection

from flashport.adapters.db import waiting_room_repo as repo
from flashport.domain.errors import Conflict, DomainError, Forbidden, InvalidInput, NotFound
from flashport.domain.waiting_room import (
    Cursor,
    Suspicion,
    admission_refusal,
    auto_rate,
    challenge_refusal,
    estimated_wait,
    make_challenge,
    shuffled_places,
    sign_admission,
)
from flashport.services.context import Context, Tx
from flashport.services.waiting_room.state import PendingJoin, RoomView

ADMISSION = "admission token"
CHALLENGE = "queue challenge"
AUTO_RATE_EVERY = timedelta(seconds=2)  # how often the automatic rate is re-derived from sales
CHALLENGE_SECONDS = 300
JOIN_BATCH = 500  # joins per transaction at most
ADMISSION_MESSAGES = {
    "admission_required": "this sale has a waiting room: join the queue to get an admission token",
    "invalid_admission": "this admission token is not valid for you and this item",
    "admission_expired": "your admission token has expired: poll the queue for a fresh one",
}


class QueueState(enum.StrEnum):
    PRE_QUEUE = "pre_queue"  # joined before the start: places are drawn at the start
    WAITING = "waiting"
    ADMITTED = "admitted"
    SOLD_OUT = "sold_out"
    CHALLENGE = "challenge"  # answer the challenge to join
    NOT_JOINED = "not_joined"


@dataclass(frozen=True, slots=True)
class QueueStatus:
    item_id: int
    state: QueueState
    position: int | None = None  # buyers ahead of this one, plus one
    estimated_wait_seconds: int | None = None
    starts_at: datetime | None = None
    admission_token: str | None = None
    admission_expires_at: datetime | None = None
    challenge: str | None = None
    poll_seconds: float = 2.0


# --- the buy path's check ---------------------------------------------------------------------------


async def require_admission(ctx: Context, buyer_id: int, item_id: int, token: str | None) -> None:
    """Refuse (403) a purchase of a hot item without a valid admission token for this buyer and item.
    Memory and an HMAC only: the hot set is this process's cache (``state.HOT_TTL``)."""
    if not await is_hot(ctx, item_id):
        return
    keys = ctx.rooms.keys(ctx.settings.keys.secrets, ADMISSION)
    refused = admission_refusal(keys, token, buyer_id, item_id, ctx.clock())
    if refused is not None:
        raise Forbidden(ADMISSION_MESSAGES[refused], code=refused)


async def is_hot(ctx: Context, item_id: int) -> bool:
    return item_id in await ctx.rooms.hot_items(lambda: _read_hot(ctx))


async def _read_hot(ctx: Context) -> frozenset[int]:
    async with ctx.read() as conn:
        return await repo.hot_item_ids(conn)


# --- the room's cursor ------------------------------------------------------------------------------


async def room_view(ctx: Context, item_id: int) -> RoomView | None:
    """This process's view of the room (None: not a hot item), advanced when it is older than
    ``queue_refresh_seconds``."""
    ttl = ctx.settings.queue_refresh_seconds
    return await ctx.rooms.view(item_id, ctx.clock(), ttl, lambda: advance(ctx, item_id))


async def advance(ctx: Context, item_id: int) -> RoomView | None:
    """Move the room on to now, in one short transaction on its locked row: shuffle the pre-queue once
    the sale has started, move the cursor at its rate, and re-derive an automatic rate from the units
    sold since the last mark."""
    terms = await ctx.buy_path.terms(item_id)
    if terms is None:
        return None
    remaining = (await ctx.stock.remaining([item_id])).get(item_id)
    async with ctx.transaction() as tx:
        row = await repo.lock_room(tx.conn, item_id, tx.now)
        if row is None:
            return None
        cursor = await _started(ctx, tx.conn, row, terms.starts_at, tx.now)
        mark, mark_at = row.sold_mark, row.sold_mark_at
        if cursor is not None:
            cursor = cursor.advanced(tx.now)
            if row.terms.admit_per_second is None and remaining is not None:
                cursor, mark, mark_at = _rederive(ctx, cursor, remaining, mark, mark_at, tx.now)
            await repo.save_cursor(tx.conn, item_id, cursor, mark, mark_at)
    return RoomView(row.terms, cursor, terms.starts_at, remaining)


async def _started(
    ctx: Context, conn: AsyncConnection, row: repo.RoomRow, starts_at: datetime, now: datetime
) -> Cursor | None:
    """The room's cursor; at the first look after the start, the pre-queue is dealt its places."""
    if row.cursor is not None or now < starts_at:
        return row.cursor
    entries = await repo.pre_queue(conn, row.terms.item_id)
    await repo.deal_places(conn, shuffled_places(entries))
    rate = row.terms.admit_per_second or ctx.settings.queue_auto_rate_start
    await repo.mark_shuffled(conn, row.terms.item_id, now)
    return Cursor(0.0, now, rate, len(entries))


def _rederive(
    ctx: Context, cursor: Cursor, remaining: int, mark: int | None, mark_at: datetime | None, now: datetime
) -> tuple[Cursor, int | None, datetime | None]:
    if mark is None or mark_at is None:
        return cursor, remaining, now
    seconds = (now - mark_at).total_seconds()
    if seconds < AUTO_RATE_EVERY.total_seconds():
        return cursor, mark, mark_at
    s = ctx.settings
    sold_per_second = max(0, mark - remaining) / seconds
    rate = auto_rate(cursor.rate, sold_per_second, floor=s.queue_auto_rate_min, ceiling=s.queue_auto_rate_max)
    return Cursor(cursor.admitted, cursor.at, rate, cursor.places), remaining, now


# --- join and poll ------------------------------------------------------------------------------------


async def join(
    ctx: Context,
    buyer_id: int,
    item_id: int,
    address: str | None,
    challenge: str | None = None,
    solution: str | None = None,
) -> QueueStatus:
    """Take the buyer's one place in the room (or find it again), then answer as :func:`status` does.
    Refused before the pre-queue opens (409 ``queue_not_open``) and after the sale ended."""
    view = await room_view(ctx, item_id)
    if view is None:
        raise NotFound(f"sale item {item_id} has no waiting room", code="waiting_room_not_found")
    now = ctx.clock()
    terms = await ctx.buy_path.terms(item_id)
    assert terms is not None  # a view exists only for a known item
    if now < terms.starts_at - view.terms.opens_before:
        opens = terms.starts_at - view.terms.opens_before
        raise Conflict(f"the queue opens at {opens.isoformat()}", code="queue_not_open")
    if now >= terms.ends_at:
        raise Conflict("this sale has ended", code="sale_ended")
    if not ctx.rooms.place(item_id, buyer_id):  # unknown here, or in the pre-queue
        refused = await _take_place(ctx, view, buyer_id, item_id, address, challenge, solution)
        if refused is not None and refused.state is QueueState.CHALLENGE:
            return refused
    return await status(ctx, buyer_id, item_id)


async def _take_place(
    ctx: Context,
    view: RoomView,
    buyer_id: int,
    item_id: int,
    address: str | None,
    challenge: str | None,
    solution: str | None,
) -> QueueStatus | None:
    """Queue the join for this process's next batch and wait for its outcome: joins arriving together
    share one transaction on the room's locked row (as orders share a group commit), so a crowd joining
    at once costs a few transactions, not one each, and SQLite's one writer is not fought over."""
    join = PendingJoin(buyer_id, address, challenge, solution, asyncio.get_running_loop().create_future())
    ctx.rooms.pending_joins.setdefault(item_id, []).append(join)
    if item_id not in ctx.rooms.join_drainers:
        drainer = asyncio.create_task(_drain_joins(ctx, item_id, view.starts_at))
        ctx.rooms.join_drainers[item_id] = drainer
    return await join.answer


async def _drain_joins(ctx: Context, item_id: int, starts_at: datetime) -> None:
    try:
        while pending := ctx.rooms.pending_joins.get(item_id):
            batch, pending[:] = pending[:JOIN_BATCH], pending[JOIN_BATCH:]
            try:
                outcomes = await _join_batch(ctx, item_id, starts_at, batch)
            except Exception as exc:  # the transaction failed: none of the batch joined
                for join in batch:
                    if not join.answer.done():
                        join.answer.set_exception(exc)
                continue
            for join, outcome in zip(batch, outcomes, strict=True):
                if join.answer.done():
                    continue
                if isinstance(outcome, DomainError):
                    join.answer.set_exception(outcome)
                else:
                    join.answer.set_result(outcome)
    finally:
        ctx.rooms.join_drainers.pop(item_id, None)


async def _join_batch(
    ctx: Context, item_id: int, starts_at: datetime, batch: list[PendingJoin]
) -> list[QueueStatus | DomainError | None]:
    outcomes: list[QueueStatus | DomainError | None] = []
    entries: list[tuple[int, str | None, int | None]] = []
    kept: list[tuple[int, int]] = []  # (buyer, place; 0 in the pre-queue) to remember after the commit
    friction_on = ctx.settings.queue_challenge_bits > 0
    async with ctx.transaction() as tx:
        row = await repo.lock_room(tx.conn, item_id, tx.now)
        if row is None:
            gone = NotFound(f"sale item {item_id} has no waiting room", code="waiting_room_not_found")
            return [gone for _ in batch]
        cursor = await _started(ctx, tx.conn, row, starts_at, tx.now)
        cursor = cursor.advanced(tx.now) if cursor is not None else None
        joined = await repo.joined_of(tx.conn, item_id, [join.buyer_id for join in batch])
        friction = Counter[str]()
        for join in batch:
            if join.buyer_id in joined:  # one place per buyer (a repeat in this batch too)
                outcomes.append(None)
                continue
            try:
                refused = await _challenged(ctx, tx, item_id, join, friction)
            except DomainError as exc:
                outcomes.append(exc)
                continue
            if refused is not None:
                outcomes.append(refused)
                continue
            place = None
            if cursor is not None:
                cursor = Cursor(cursor.admitted, cursor.at, cursor.rate, cursor.places + 1)
                place = cursor.places
            entries.append((join.buyer_id, join.address, place))
            joined.add(join.buyer_id)
            if join.address is not None and friction_on:
                # the next join's suspicion counts this one: write it now
                await repo.add_places(tx.conn, item_id, entries, tx.now)
                entries.clear()
            kept.append((join.buyer_id, place if place is not None else 0))
            outcomes.append(None)
        await repo.add_places(tx.conn, item_id, entries, tx.now)
        if cursor is not None:
            await repo.save_cursor(tx.conn, item_id, cursor, row.sold_mark, row.sold_mark_at)
        if friction:
            await repo.count_friction(
                tx.conn, item_id, challenged=friction["challenged"], passed=friction["passed"]
            )
    for buyer_id, place in kept:
        ctx.rooms.keep_place(item_id, buyer_id, place)
    return outcomes


async def _challenged(
    ctx: Context, tx: Tx, item_id: int, join: PendingJoin, friction: Counter[str]
) -> QueueStatus | None:
    """None: the buyer may take a place now; else the challenge to answer first. A wrong answer raises.
    Only an address that looks automated is asked (accounts from it, joins from it in the burst window)."""
    s = ctx.settings
    if join.address is None or s.queue_challenge_bits == 0:
        return None
    since = tx.now - timedelta(seconds=s.queue_burst_seconds)
    total, recent = await repo.from_address(tx.conn, item_id, join.address, since)
    suspect = Suspicion(total, recent).looks_automated(
        max_accounts=s.queue_accounts_per_address, max_burst=s.queue_joins_per_address_burst
    )
    if not suspect:
        return None
    if join.challenge is None or join.solution is None:
        friction["challenged"] += 1
        return _challenge(ctx, join.buyer_id, item_id, tx.now)
    _check_solution(ctx, join.challenge, join.solution, join.buyer_id, item_id, tx.now)
    friction["passed"] += 1
    return None


def _challenge(ctx: Context, buyer_id: int, item_id: int, now: datetime) -> QueueStatus:
    keys = ctx.rooms.keys(ctx.settings.keys.secrets, CHALLENGE)
    expires = now + timedelta(seconds=CHALLENGE_SECONDS)
    puzzle = make_challenge(keys[0], buyer_id, item_id, ctx.settings.queue_challenge_bits, expires)
    return QueueStatus(item_id, QueueState.CHALLENGE, challenge=puzzle)


def _check_solution(
    ctx: Context, challenge: str, solution: str, buyer_id: int, item_id: int, now: datetime
) -> None:
    keys = ctx.rooms.keys(ctx.settings.keys.secrets, CHALLENGE)
    refused = challenge_refusal(keys, challenge, solution, buyer_id, item_id, now)
    if refused is not None:
        raise InvalidInput(
            "the answer to the queue's challenge is not right: ask for a new one", code=refused
        )


async def status(ctx: Context, buyer_id: int, item_id: int) -> QueueStatus:
    """Where the buyer stands. Memory only once the buyer's place is known to this process."""
    view = await room_view(ctx, item_id)
    if view is None:
        raise NotFound(f"sale item {item_id} has no waiting room", code="waiting_room_not_found")
    now = ctx.clock()
    if view.remaining == 0 or ctx.buy_path.board.is_sold_out(item_id):
        return QueueStatus(item_id, QueueState.SOLD_OUT, starts_at=view.starts_at)
    place = ctx.rooms.place(item_id, buyer_id)
    if place == 0 and view.cursor is None:  # known to wait for the shuffle: no need to look
        return QueueStatus(item_id, QueueState.PRE_QUEUE, starts_at=view.starts_at, poll_seconds=5.0)
    if not place:
        place = await _find_place(ctx, buyer_id, item_id, view)
        if place is None:
            return QueueStatus(item_id, QueueState.NOT_JOINED, starts_at=view.starts_at)
        if place == 0:
            return QueueStatus(item_id, QueueState.PRE_QUEUE, starts_at=view.starts_at, poll_seconds=5.0)
    assert view.cursor is not None  # a place is dealt only once the room has a cursor
    cursor = view.cursor.advanced(now)
    if cursor.admits(place):
        expires = now + timedelta(seconds=view.terms.token_seconds)
        key = ctx.rooms.keys(ctx.settings.keys.secrets, ADMISSION)[0]
        token = sign_admission(key, buyer_id, item_id, expires)
        return QueueStatus(
            item_id, QueueState.ADMITTED, 0, 0, view.starts_at, token, expires.replace(microsecond=0)
        )
    ahead = place - math.floor(cursor.admitted)
    wait = estimated_wait(place, cursor)
    seconds = None if math.isinf(wait) else max(1, math.ceil(wait))
    poll = min(10.0, max(1.0, wait / 4)) if seconds is not None else 5.0
    return QueueStatus(item_id, QueueState.WAITING, ahead, seconds, view.starts_at, poll_seconds=poll)


async def _find_place(ctx: Context, buyer_id: int, item_id: int, view: RoomView) -> int | None:
    """The buyer's place from the database (then kept in memory); 0 while in the pre-queue."""
    async with ctx.read() as conn:
        found = await repo.place_of(conn, item_id, buyer_id)
    if found is None:
        return None
    place = found[1] or 0
    ctx.rooms.keep_place(item_id, buyer_id, place)
    return int(place)
