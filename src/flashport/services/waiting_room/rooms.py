"""The operator's side of the waiting room: mark a sale item (or every item of an event) hot with its
terms, take the mark off, and read a room's figures (queue length, admitted, rate, how many joins were
challenged and how many passed). Each change writes an outbox event in its transaction (rule 9)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from flashport.adapters.db import sales_repo
from flashport.adapters.db import waiting_room_repo as repo
from flashport.domain.errors import InvalidInput, NotFound
from flashport.domain.waiting_room import RoomTerms
from flashport.services.context import Context, Tx
from flashport.services.sales.loading import event_or_404, item_or_404


@dataclass(frozen=True, slots=True)
class RoomSettings:
    """What the operator asks for; None takes the deployment's setting (``admit_per_second`` None:
    derived from measured capacity)."""

    opens_before_seconds: int | None = None
    admit_per_second: float | None = None
    token_seconds: int | None = None


@dataclass(frozen=True, slots=True)
class RoomFigures:
    item_id: int
    enabled: bool
    opens_before_seconds: int
    admit_per_second: float | None
    token_seconds: int
    shuffled_at: datetime | None
    queued: int
    pre_queue: int
    admitted: int
    rate: float
    challenged: int
    passed: int


def _terms(ctx: Context, item_id: int, asked: RoomSettings) -> RoomTerms:
    s = ctx.settings
    opens = s.queue_opens_before_seconds if asked.opens_before_seconds is None else asked.opens_before_seconds
    token = s.queue_admission_seconds if asked.token_seconds is None else asked.token_seconds
    if opens < 0 or not 10 <= token <= 3600:
        raise InvalidInput(
            "opens_before_seconds is at least 0; token_seconds 10 to 3600", code="invalid_room"
        )
    if asked.admit_per_second is not None and asked.admit_per_second <= 0:
        raise InvalidInput("admit_per_second is above 0 (or null: automatic)", code="invalid_room")
    return RoomTerms(item_id, timedelta(seconds=opens), asked.admit_per_second, token)


async def mark_hot(ctx: Context, operator_id: int, item_id: int, asked: RoomSettings) -> RoomFigures:
    async with ctx.transaction() as tx:
        item = await item_or_404(tx.conn, item_id)
        terms = _terms(ctx, item_id, asked)
        await _save(ctx, tx, terms)
        details = {"event_id": item.event_id, "item_id": item_id, "operator_id": operator_id}
        await tx.emit("sale_item.waiting_room_set", f"event:{item.event_id}", details)
    if terms.admit_per_second is not None:
        await ctx.queue_store.set_rate(item_id, terms.admit_per_second, ctx.clock())
    ctx.rooms.changed(item_id, hot=True)
    return await figures(ctx, item_id)


async def mark_event_hot(
    ctx: Context, operator_id: int, event_id: int, asked: RoomSettings
) -> list[RoomFigures]:
    """Every item of the event gets a room of the same terms."""
    async with ctx.transaction() as tx:
        await event_or_404(tx.conn, event_id)
        item_ids = [item.id for item in await sales_repo.items_of(tx.conn, [event_id])]
        for item_id in item_ids:
            await _save(ctx, tx, _terms(ctx, item_id, asked))
        details = {"event_id": event_id, "item_ids": item_ids, "operator_id": operator_id}
        await tx.emit("sale_event.waiting_room_set", f"event:{event_id}", details)
    for item_id in item_ids:
        if asked.admit_per_second is not None:
            await ctx.queue_store.set_rate(item_id, asked.admit_per_second, ctx.clock())
        ctx.rooms.changed(item_id, hot=True)
    return [await figures(ctx, item_id) for item_id in item_ids]


async def _save(ctx: Context, tx: Tx, terms: RoomTerms) -> None:
    rate = terms.admit_per_second or ctx.settings.queue_auto_rate_start
    await repo.save_room(tx.conn, terms, rate, tx.now)


async def unmark(ctx: Context, operator_id: int, item_id: int) -> None:
    """Buying no longer needs admission; the queue's places are kept should the mark come back."""
    async with ctx.transaction() as tx:
        item = await item_or_404(tx.conn, item_id)
        if not await repo.disable_room(tx.conn, item_id, tx.now):
            raise NotFound(f"sale item {item_id} has no waiting room", code="waiting_room_not_found")
        details = {"event_id": item.event_id, "item_id": item_id, "operator_id": operator_id}
        await tx.emit("sale_item.waiting_room_removed", f"event:{item.event_id}", details)
    ctx.rooms.changed(item_id, hot=False)


async def figures(ctx: Context, item_id: int) -> RoomFigures:
    """The terms from the database, the queue from the room's store (database or Redis)."""
    async with ctx.read() as conn:
        row = await repo.room(conn, item_id)
    if row is None:
        raise NotFound(f"sale item {item_id} has no waiting room", code="waiting_room_not_found")
    now = ctx.clock()
    room = await ctx.queue_store.state(item_id, now)
    cursor = room.cursor.advanced(now) if room.cursor is not None else None
    t = row.terms
    return RoomFigures(
        item_id, row.enabled, int(t.opens_before.total_seconds()), t.admit_per_second, t.token_seconds,
        room.shuffled_at, room.queued, room.pre_queue, int(cursor.admitted) if cursor else 0,
        cursor.rate if cursor else (t.admit_per_second or ctx.settings.queue_auto_rate_start),
        room.challenged, room.passed,
    )  # fmt: skip
