"""Each API process's view of the waiting rooms, so that the buy path and the queue's polls need no
database or Redis call of their own:

- the set of hot items, re-read at most once a second (``HOT_TTL``) however many ask;
- per room, the admission cursor as last advanced (every ``queue_refresh_seconds``, by whichever
  process gets there: see ``queue.advance``), extrapolated between refreshes at its rate;
- per buyer, the place once dealt (a place never changes);
- the keys derived from the keyring that sign admission tokens and challenges.

How stale it may be: a room marked hot is enforced everywhere within ``HOT_TTL`` (the process that
marked it at once); a cursor is at most one refresh behind.

Failure policy of the hot set (a :class:`~flashport.services.last_known.LastKnown`): while its refresh
is stalled or failing, the set last read is kept for ``HOT_STALE_SECONDS`` more, and no purchase waits
for the refresh. That is safe for a few seconds: a room marked meanwhile by another process is enforced
here that much later (its buyers could skip the queue for those seconds, but never buy more than the
stock engine holds or a buyer may), and a room unmarked is still enforced that much longer (a buyer
polls for an admission token). With no usable set (the first read, or the last too old) a purchase waits
for the read at most its deadline (the buy deadline), then fails closed: 503 with Retry-After, or the
database's error.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flashport.domain.waiting_room import Cursor, RoomTerms, derive_key
from flashport.services.last_known import LastKnown

HOT_TTL = 1.0
HOT_STALE_SECONDS = 10.0  # the hot set served past its ttl while its refresh is stalled (see above)
MAX_PLACES_KEPT = 1_000_000


@dataclass(frozen=True, slots=True)
class PendingJoin:
    """A join waiting for this process's next batch (services/waiting_room/queue.py)."""

    buyer_id: int
    address: str | None
    challenge: str | None
    solution: str | None
    answer: asyncio.Future[Any]


@dataclass(frozen=True, slots=True)
class RoomView:
    """A room as this process last read it. ``cursor`` None: the pre-queue is not shuffled yet."""

    terms: RoomTerms
    cursor: Cursor | None
    starts_at: datetime
    remaining: int | None  # units left in the stock engine at the read (None: unknown item)


class WaitingRooms:
    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._monotonic = monotonic
        self._hot: LastKnown[frozenset[int]] = LastKnown(
            ttl=HOT_TTL, stale_for=HOT_STALE_SECONDS, monotonic=monotonic, what="the hot items"
        )
        self._views: dict[int, tuple[float, RoomView | None]] = {}
        self._read_from: dict[int, float] = {}  # when the cached view's read began
        self._refreshing: dict[int, asyncio.Future[RoomView | None]] = {}
        self._places: dict[tuple[int, int], int] = {}
        self._keys: dict[tuple[tuple[str, ...], str], tuple[bytes, ...]] = {}
        self.pending_joins: dict[int, list[PendingJoin]] = {}
        self.join_drainers: dict[int, asyncio.Task[None]] = {}

    # -- hot items ------------------------------------------------------------------------------------

    async def hot_items(
        self, load: Callable[[], Awaitable[frozenset[int]]], deadline: float
    ) -> frozenset[int]:
        """The items with a waiting room; ``load`` reads them, waited for at most ``deadline`` seconds
        when no usable set is known (the module docstring)."""
        hot = self._hot
        if hot.fresh_until > self._monotonic():
            return hot.value
        return await hot.get(load, deadline)

    def changed(self, item_id: int, hot: bool) -> None:
        """This process marked or unmarked a room: known at once here (others within ``HOT_TTL``)."""
        if self._hot.known:
            known = self._hot.value
            self._hot.amend(known | {item_id} if hot else known - {item_id})
        self._views.pop(item_id, None)

    # -- rooms ----------------------------------------------------------------------------------------

    async def view(
        self,
        item_id: int,
        now: datetime,
        ttl: float,
        refresh: Callable[[], Awaitable[RoomView | None]],
        *,
        read_since: float | None = None,
    ) -> RoomView | None:
        """The room as of at most ``ttl`` seconds ago (and refreshed at once when the start passed
        while the cached view still waits for the shuffle); one refresh at a time per item. With
        ``read_since`` (this clock's monotonic time), a view whose read began before then will not do:
        the caller knows of a place dealt since (callers asking together share the next read)."""
        while True:
            cached = self._views.get(item_id)
            fresh = read_since is None or self._read_from.get(item_id, -1.0) >= read_since
            if cached is not None and cached[0] > self._monotonic() and fresh:
                view = cached[1]
                if view is None or view.cursor is not None or now < view.starts_at:
                    return view
            running = self._refreshing.get(item_id)
            if running is None:
                return await self._refresh(item_id, ttl, refresh)
            view = await asyncio.shield(running)
            if read_since is None or self._read_from.get(item_id, -1.0) >= read_since:
                return view

    async def _refresh(
        self, item_id: int, ttl: float, refresh: Callable[[], Awaitable[RoomView | None]]
    ) -> RoomView | None:
        future: asyncio.Future[RoomView | None] = asyncio.get_running_loop().create_future()
        self._refreshing[item_id] = future
        began = self._monotonic()
        try:
            view = await refresh()
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()
            raise
        finally:
            self._refreshing.pop(item_id, None)
        self._read_from[item_id] = began
        self._views[item_id] = (self._monotonic() + ttl, view)
        future.set_result(view)
        return view

    def monotonic(self) -> float:
        return self._monotonic()

    def place(self, item_id: int, buyer_id: int) -> int | None:
        return self._places.get((item_id, buyer_id))

    def keep_place(self, item_id: int, buyer_id: int, place: int) -> None:
        if len(self._places) >= MAX_PLACES_KEPT:
            self._places.clear()
        self._places[(item_id, buyer_id)] = place

    # -- keys -----------------------------------------------------------------------------------------

    def keys(self, secrets: tuple[str, ...], purpose: str) -> tuple[bytes, ...]:
        """The keys of ``purpose`` derived from every secret of the keyring (the current one first)."""
        found = self._keys.get((secrets, purpose))
        if found is None:
            found = tuple(derive_key(secret, purpose) for secret in secrets)
            self._keys[(secrets, purpose)] = found
        return found
