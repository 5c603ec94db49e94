"""Each API process's view of the waiting rooms, so that the buy path and the queue's polls need no
database or Redis call of their own:

- the set of hot items, re-read at most once a second (``HOT_TTL``) however many ask;
- per room, the admission cursor as last advanced (every ``queue_refresh_seconds``, by whichever
  process gets there: see ``queue.advance``), extrapolated between refreshes at its rate;
- per buyer, the place once dealt (a place never changes);
- the keys derived from the keyring that sign admission tokens and challenges.

How stale it may be: a room marked hot is enforced everywhere within ``HOT_TTL`` (the process that
marked it at once); a cursor is at most one refresh behind. Failure policy: if the hot set cannot be read
the stale one is kept; with none read yet the purchase fails (closed) with the database error.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flashport.domain.waiting_room import Cursor, RoomTerms, derive_key

HOT_TTL = 1.0
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
        self._hot: frozenset[int] | None = None
        self._hot_until = 0.0
        self._hot_loading: asyncio.Future[frozenset[int]] | None = None
        self._views: dict[int, tuple[float, RoomView | None]] = {}
        self._read_from: dict[int, float] = {}  # when the cached view's read began
        self._refreshing: dict[int, asyncio.Future[RoomView | None]] = {}
        self._places: dict[tuple[int, int], int] = {}
        self._keys: dict[tuple[tuple[str, ...], str], tuple[bytes, ...]] = {}
        self.pending_joins: dict[int, list[PendingJoin]] = {}
        self.join_drainers: dict[int, asyncio.Task[None]] = {}

    # -- hot items ------------------------------------------------------------------------------------

    async def hot_items(self, load: Callable[[], Awaitable[frozenset[int]]]) -> frozenset[int]:
        if self._hot is not None and self._hot_until > self._monotonic():
            return self._hot
        if self._hot_loading is not None:
            return await asyncio.shield(self._hot_loading)
        future: asyncio.Future[frozenset[int]] = asyncio.get_running_loop().create_future()
        self._hot_loading = future
        try:
            hot = await load()
        except Exception as exc:
            self._hot_loading = None
            if self._hot is not None:  # keep what we knew; the next call tries again
                future.set_result(self._hot)
                return self._hot
            future.set_exception(exc)
            future.exception()
            raise
        self._hot, self._hot_until, self._hot_loading = hot, self._monotonic() + HOT_TTL, None
        future.set_result(hot)
        return hot

    def changed(self, item_id: int, hot: bool) -> None:
        """This process marked or unmarked a room: known at once here (others within ``HOT_TTL``)."""
        if self._hot is not None:
            self._hot = self._hot | {item_id} if hot else self._hot - {item_id}
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
