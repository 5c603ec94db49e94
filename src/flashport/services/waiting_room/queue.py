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
from dataclasses import dataclass
from datetime import datetime, timedelta

from flashport.adapters.db import waiting_room_repo as repo
from flashport.adapters.waiting_room.interface import CHALLENGE, WRONG, Answer, JoinAsk
from flashport.domain.errors import Conflict, DomainError, Forbidden, InvalidInput, NotFound
from flashport.domain.waiting_room import (
    FrictionPolicy,
    RatePolicy,
    admission_refusal,
    challenge_refusal,
    estimated_wait,
    make_challenge,
    sign_admission,
)
from flashport.services.context import Context
from flashport.services.waiting_room.state import PendingJoin, RoomView

ADMISSION = "admission token"
CHALLENGE_PURPOSE = "queue challenge"
CHALLENGE_SECONDS = 300
JOIN_BATCH = 500  # joins per transaction at most
JOIN_HOLD_SECONDS = 0.1  # a join whose admission is this close waits for it instead of polling
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
    estimated_wait_seconds_exact: float | None = None  # unrounded, for the join's short hold


# --- the buy path's check ---------------------------------------------------------------------------


async def require_admission(
    ctx: Context, buyer_id: int, item_id: int, token: str | None, deadline: float
) -> None:
    """Refuse (403) a purchase of a hot item without a valid admission token for this buyer and item.
    Memory and an HMAC only: the hot set is this process's cache (``state.HOT_TTL``), whose refresh
    a purchase waits for at most ``deadline`` seconds when it has no usable copy."""
    if not await is_hot(ctx, item_id, deadline):
        return
    keys = ctx.rooms.keys(ctx.settings.keys.secrets, ADMISSION)
    refused = admission_refusal(keys, token, buyer_id, item_id, ctx.clock())
    if refused is not None:
        raise Forbidden(ADMISSION_MESSAGES[refused], code=refused)


async def is_hot(ctx: Context, item_id: int, deadline: float | None = None) -> bool:
    """Whether the item has a waiting room; a stalled refresh is waited for at most ``deadline`` seconds
    (the buy deadline when not given)."""
    if deadline is None:
        deadline = ctx.settings.buy_deadline_seconds
    return item_id in await ctx.rooms.hot_items(lambda: _read_hot(ctx), deadline)


async def _read_hot(ctx: Context) -> frozenset[int]:
    async with ctx.read() as conn:
        return await repo.hot_item_ids(conn)


# --- the room's cursor ------------------------------------------------------------------------------


async def room_view(ctx: Context, item_id: int, read_since: float | None = None) -> RoomView | None:
    """This process's view of the room (None: not a hot item), advanced when it is older than
    ``queue_refresh_seconds``, or read since ``read_since`` (``ctx.rooms.monotonic()``) if given."""
    ttl = ctx.settings.queue_refresh_seconds
    return await ctx.rooms.view(
        item_id, ctx.clock(), ttl, lambda: advance(ctx, item_id), read_since=read_since
    )


async def advance(ctx: Context, item_id: int) -> RoomView | None:
    """Move the room on to now in its store (``adapters/waiting_room``): shuffle the pre-queue once the
    sale has started, move the cursor at its rate, and re-derive an automatic rate from the units sold
    since the last mark."""
    terms = await ctx.buy_path.terms(item_id, ctx.settings.buy_deadline_seconds)
    if terms is None:
        return None
    remaining = (await ctx.stock.remaining([item_id])).get(item_id)
    found = await ctx.queue_store.advance(item_id, terms.starts_at, remaining, rates(ctx), ctx.clock())
    if found is None:
        return None
    room_terms, cursor = found
    return RoomView(room_terms, cursor, terms.starts_at, remaining)


def rates(ctx: Context) -> RatePolicy:
    s = ctx.settings
    return RatePolicy(s.queue_auto_rate_start, s.queue_auto_rate_min, s.queue_auto_rate_max)


def _friction(ctx: Context) -> FrictionPolicy | None:
    s = ctx.settings
    if s.queue_challenge_bits == 0:
        return None
    return FrictionPolicy(
        s.queue_accounts_per_address, s.queue_joins_per_address_burst, s.queue_burst_seconds
    )


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
    terms = await ctx.buy_path.terms(item_id, ctx.settings.buy_deadline_seconds)
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
    found = await status(ctx, buyer_id, item_id)
    wait = found.estimated_wait_seconds_exact
    if found.state is QueueState.WAITING and wait is not None and wait <= JOIN_HOLD_SECONDS:
        # A fast room admits this newcomer within moments: answer once it has, rather than send the
        # buyer away to poll a second later (a join at 10,000 a second needs 0.1 ms per place).
        await asyncio.sleep(wait)
        found = await status(ctx, buyer_id, item_id)
    return found


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
    share one call to the room's store (one transaction on the room's locked row in the database, one
    script call in Redis), as orders share a group commit, so a crowd joining at once costs a few
    calls, not one each, and SQLite's one writer is not fought over."""
    join = PendingJoin(buyer_id, address, challenge, solution, asyncio.get_running_loop().create_future())
    ctx.rooms.pending_joins.setdefault(item_id, []).append(join)
    if item_id not in ctx.rooms.join_drainers:
        drainer = asyncio.create_task(_drain_joins(ctx, item_id))
        ctx.rooms.join_drainers[item_id] = drainer
    return await join.answer


async def _drain_joins(ctx: Context, item_id: int) -> None:
    try:
        while pending := ctx.rooms.pending_joins.get(item_id):
            batch, pending[:] = pending[:JOIN_BATCH], pending[JOIN_BATCH:]
            try:
                outcomes = await _join_batch(ctx, item_id, batch)
            except Exception as exc:  # the store failed: none of the batch joined
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
    ctx: Context, item_id: int, batch: list[PendingJoin]
) -> list[QueueStatus | DomainError | None]:
    view = await room_view(ctx, item_id)
    now = ctx.clock()
    refusals = [_refusal(ctx, join, item_id, now) for join in batch]
    asks = [JoinAsk(j.buyer_id, j.address, _answer(j, r)) for j, r in zip(batch, refusals, strict=True)]
    found = None
    if view is not None:
        found = await ctx.queue_store.join_batch(
            item_id, view.terms, view.starts_at, asks, rates(ctx), _friction(ctx), now
        )
    if found is None:
        gone = NotFound(f"sale item {item_id} has no waiting room", code="waiting_room_not_found")
        return [gone for _ in batch]
    outcomes: list[QueueStatus | DomainError | None] = []
    for join, refused, outcome in zip(batch, refusals, found, strict=True):
        if outcome == CHALLENGE:
            outcomes.append(_challenge(ctx, join.buyer_id, item_id, now))
        elif outcome == WRONG:
            message = "the answer to the queue's challenge is not right: ask for a new one"
            outcomes.append(InvalidInput(message, code=refused or "wrong_solution"))
        else:
            if outcome >= 0:
                ctx.rooms.keep_place(item_id, join.buyer_id, outcome)
            outcomes.append(None)
    return outcomes


def _refusal(ctx: Context, join: PendingJoin, item_id: int, now: datetime) -> str | None:
    """Why the join's answer to a challenge is wrong (None: right, or no answer given). Judged here,
    where the keys are; the store asks for it only if the address looks automated."""
    if join.challenge is None or join.solution is None:
        return None
    keys = ctx.rooms.keys(ctx.settings.keys.secrets, CHALLENGE_PURPOSE)
    return challenge_refusal(keys, join.challenge, join.solution, join.buyer_id, item_id, now)


def _answer(join: PendingJoin, refused: str | None) -> Answer:
    if join.challenge is None or join.solution is None:
        return Answer.NONE
    return Answer.WRONG if refused is not None else Answer.RIGHT


def _challenge(ctx: Context, buyer_id: int, item_id: int, now: datetime) -> QueueStatus:
    keys = ctx.rooms.keys(ctx.settings.keys.secrets, CHALLENGE_PURPOSE)
    expires = now + timedelta(seconds=CHALLENGE_SECONDS)
    puzzle = make_challenge(keys[0], buyer_id, item_id, ctx.settings.queue_challenge_bits, expires)
    return QueueStatus(item_id, QueueState.CHALLENGE, challenge=puzzle)


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
        place = await _find_place(ctx, buyer_id, item_id)
        if place is None:
            return QueueStatus(item_id, QueueState.NOT_JOINED, starts_at=view.starts_at)
        if place == 0:
            return QueueStatus(item_id, QueueState.PRE_QUEUE, starts_at=view.starts_at, poll_seconds=5.0)
    if view.cursor is not None and place > view.cursor.places:
        # The place was dealt after this view was read (a join here or in another process): the next
        # read, shared by every buyer in the same case, moves the cursor over it.
        view = await room_view(ctx, item_id, read_since=ctx.rooms.monotonic()) or view
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
    exact = None if math.isinf(wait) else wait
    return QueueStatus(
        item_id, QueueState.WAITING, ahead, seconds, view.starts_at, poll_seconds=poll,
        estimated_wait_seconds_exact=exact,
    )  # fmt: skip


async def _find_place(ctx: Context, buyer_id: int, item_id: int) -> int | None:
    """The buyer's place from the room's store (then kept in memory); 0 while in the pre-queue."""
    place = await ctx.queue_store.place_of(item_id, buyer_id)
    if place is not None:
        ctx.rooms.keep_place(item_id, buyer_id, place)
    return place
