"""The live sale board: for each running event and item, units sold, reserved, paid, closed unpaid and
left, units a second, payment conversion and time to sell out at the current rate.

Why it is cheap enough to leave open on many screens during a rush: a board is built at most once per
``fresh_for`` seconds per process, however many screens ask (one build in flight, shared). A build reads
the running events' rows, the stock engine's remaining units (one call for all items) and the tallies
the settlement and the expiry sweep keep (a few rows per item): nothing that grows with the number of
orders, and no write. Rates come from the samples this process kept of earlier builds.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import UTC, datetime

from flashport.adapters.db import console_repo, sales_repo, tallies_repo
from flashport.domain import board as rules
from flashport.domain.sale_entities import EventView
from flashport.domain.sales import EventStatus
from flashport.services.context import Context
from flashport.services.sales.views import describe


@dataclass(frozen=True, slots=True)
class ItemFigures:
    item_id: int
    title: str
    brand: str
    quantity: int
    left: int
    sold: int  # units held by pending or paid orders: quantity - left
    reserved: int  # of those, units waiting for payment
    paid: int
    closed: int  # units of orders that expired or were cancelled unpaid (they went back to the sale)
    paid_orders: int
    closed_orders: int
    units_per_second: float
    seconds_to_sell_out: float | None
    conversion: float | None  # paid / (paid + closed) orders
    paused: bool  # this item is paused itself (see EventFigures.paused for the whole event)


@dataclass(frozen=True, slots=True)
class EventFigures:
    event_id: int
    title: str
    channel: str
    status: EventStatus  # live, or ended (sold out) while its window still runs
    paused: bool
    starts_at: datetime
    ends_at: datetime
    items: tuple[ItemFigures, ...]

    @property
    def quantity(self) -> int:
        return sum(i.quantity for i in self.items)

    @property
    def left(self) -> int:
        return sum(i.left for i in self.items)

    @property
    def units_per_second(self) -> float:
        return sum(i.units_per_second for i in self.items)


@dataclass(frozen=True, slots=True)
class Board:
    at: datetime
    fresh_for: float
    events: tuple[EventFigures, ...]


class SaleBoard:
    """One per process (the composition root keeps it): the memo and the samples of earlier builds."""

    def __init__(
        self,
        *,
        fresh_for: float = 1.0,
        window: float = 10.0,
        keep: float = 120.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.fresh_for = fresh_for
        self.window = window
        self._keep = keep
        self._clock = clock
        self._samples: dict[int, deque[rules.Sample]] = {}
        self._built_at: float | None = None
        self._current: asyncio.Task[Board] | None = None
        self._paused: set[tuple[str, int]] = set()
        self.builds = 0  # how many boards this process built (tests, and the benchmark's report)

    async def snapshot(self, ctx: Context) -> Board:
        """The board, built now or at most ``fresh_for`` seconds ago; callers during a build share it."""
        now = self._clock()
        task = self._current
        stale = self._built_at is None or now - self._built_at >= self.fresh_for
        if task is None or (stale and task.done()):
            self._built_at = now
            task = self._current = asyncio.ensure_future(self._build(ctx, now))
            task.add_done_callback(self._forget_failure)
        return await asyncio.shield(task)

    def _forget_failure(self, task: asyncio.Task[Board]) -> None:
        if (task.cancelled() or task.exception() is not None) and self._current is task:
            self._current = None
            self._built_at = None

    async def _build(self, ctx: Context, at: float) -> Board:
        self.builds += 1
        now = ctx.clock()
        async with ctx.read() as conn:
            events = await sales_repo.running_events(conn, now)
            items = await sales_repo.items_of(conn, [e.id for e in events])
            tallies = await tallies_repo.read(conn, [i.id for i in items])
            self._paused = await console_repo.paused(conn, [e.id for e in events], [i.id for i in items])
        views = await describe(ctx, events, items, now)  # the stock engine, with no connection held
        self._samples = {i.id: self._samples.get(i.id, deque()) for i in items}  # forget ended items
        return Board(
            at=now,
            fresh_for=self.fresh_for,
            events=tuple(self._event(view, tallies, at) for view in views),
        )

    def _event(self, view: EventView, tallies: dict[int, tallies_repo.Tally], at: float) -> EventFigures:
        figures = []
        for item in view.items:
            tally = tallies.get(item.id, tallies_repo.Tally())
            sold = max(item.quantity - item.remaining, 0)
            samples = self._samples[item.id]
            samples.append(rules.Sample(at=at, taken=sold, closed_units=tally.closed_units))
            while samples and at - samples[0].at > self._keep:
                samples.popleft()
            figures.append(
                ItemFigures(
                    item_id=item.id,
                    title=item.product_title if item.title == item.product_title else item.title,
                    brand=item.brand,
                    quantity=item.quantity,
                    left=item.remaining,
                    sold=sold,
                    reserved=max(sold - tally.paid_units, 0),
                    paid=tally.paid_units,
                    closed=tally.closed_units,
                    paid_orders=tally.paid_orders,
                    closed_orders=tally.closed_orders,
                    units_per_second=rules.units_per_second(samples, self.window),
                    seconds_to_sell_out=rules.seconds_to_sell_out(
                        item.remaining, rules.net_take_rate(samples, self.window)
                    ),
                    conversion=rules.conversion(tally.paid_orders, tally.closed_orders),
                    paused=("item", item.id) in self._paused,
                )
            )
        return EventFigures(
            event_id=view.id,
            title=view.title,
            channel=view.channel,
            status=view.status,
            paused=("event", view.id) in self._paused,
            starts_at=view.starts_at,
            ends_at=view.ends_at,
            items=tuple(figures),
        )


def _utc(moment: datetime) -> str:
    """ISO 8601 in UTC with a ``Z``, as the API's models write times."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def board_json(board: Board) -> dict[str, object]:
    """The board as plain JSON values (the console's page polls it; the API answers the same shape)."""
    return {
        "at": _utc(board.at),
        "fresh_for": board.fresh_for,
        "events": [
            {
                "event_id": e.event_id,
                "title": e.title,
                "channel": e.channel,
                "status": e.status.value,
                "paused": e.paused,
                "starts_at": _utc(e.starts_at),
                "ends_at": _utc(e.ends_at),
                "items": [{f.name: getattr(i, f.name) for f in fields(ItemFigures)} for i in e.items],
            }
            for e in board.events
        ],
    }
