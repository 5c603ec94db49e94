"""The stock engine: the one place that decides whether units can be reserved (rules 1, 2, 4, 7).

Two implementations pass the same tests: every test taking the ``buy_ctx`` fixture runs once per engine
(tests/integration/test_buy_path.py, test_payment_window.py, test_reconcile_and_crash.py, ...):

- :class:`~flashport.adapters.stock.sql.SqlStockEngine` (embedded default): the reservation is a
  conditional UPDATE inside the very transaction that writes the order, so both land or neither does.
- :class:`~flashport.adapters.stock.redis.RedisStockEngine` (``FLASHPORT_REDIS_URL``): one Lua script
  checks and reserves atomically in Redis; the order is then group-committed to the database and the
  reservation released if that write fails.

Failure policy: if the engine's store is unreachable, ``place`` raises and the buyer gets 503. Buying
fails closed; we never guess that stock is there.
"""

from __future__ import annotations

import abc
import enum
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from flashport.domain.orders import OrderDraft, RejectReason, SavedPurchase


class PlacementKind(enum.Enum):
    CREATED = "created"  # reserved and committed: the order exists
    DUPLICATE = "duplicate"  # this buyer already used this idempotency key: ``order_id`` is that order
    REJECTED = "rejected"  # nothing reserved: ``reason`` says why


@dataclass(frozen=True)
class Placement:
    kind: PlacementKind
    order_id: str | None = None
    reason: RejectReason | None = None
    remaining: int | None = None  # units left after this call, when the engine knows it cheaply
    # DUPLICATE: the earlier purchase, when the engine knows it was saved (its answer needs no database)
    saved: SavedPurchase | None = None

    @classmethod
    def rejected(cls, reason: RejectReason, remaining: int | None = None) -> Placement:
        return cls(PlacementKind.REJECTED, reason=reason, remaining=remaining)


@dataclass(frozen=True)
class Counters:
    """An item's counters as the engine holds them: units taken (reserved + sold) and units per buyer."""

    taken: int
    per_buyer: Mapping[int, int] = field(default_factory=dict)


class StockEngine(abc.ABC):
    name: str
    # Whether a caller may stop waiting on :meth:`place` (cancel it) and the purchase still ends whole:
    # its order saved all the same, or its reservation given back, so a retry with the same key learns
    # which. The buy path then answers 503 ``purchase_pending`` after its deadline instead of waiting.
    abandons_safely: bool = False

    async def ping(self) -> None:
        """Raise if the engine's own store does not answer (readiness). The SQL engine's store is the
        database, checked on its own: nothing to do."""
        return None

    @abc.abstractmethod
    async def place(self, draft: OrderDraft) -> Placement:
        """Reserve the draft's units and make the order durable, or refuse. Never half of it."""

    @abc.abstractmethod
    async def release_within(self, conn: AsyncConnection, orders: Sequence[Mapping[str, Any]]) -> bool:
        """Called inside the transaction that moved ``orders`` (one or a sweep's batch) to expired or
        cancelled. Returns True when their units were returned in that same transaction (then nothing
        is left to do after commit)."""

    @abc.abstractmethod
    async def confirm_within(self, conn: AsyncConnection, order: Mapping[str, Any]) -> None:
        """Called inside the transaction that moved ``order`` to paid: its units stay taken, but
        count as sold rather than reserved where the engine tells the two apart."""

    @abc.abstractmethod
    async def release_after(self, orders: Sequence[Mapping[str, Any]]) -> None:
        """Called after that transaction committed when ``release_within`` returned False. Must be
        idempotent per order: a crash and a retry (of the whole batch or part of it) must not return
        any order's units twice."""

    @abc.abstractmethod
    async def remaining(self, item_ids: Sequence[int]) -> dict[int, int]:
        """Units still for sale per item."""

    @abc.abstractmethod
    async def sync_items(self, item_ids: Sequence[int]) -> None:
        """Learn created/changed/cancelled items from the database (after their transaction commits)."""

    @abc.abstractmethod
    async def read_counters(self, item_id: int) -> Counters | None:
        """The engine's counters for reconciliation; None when it holds nothing for the item."""

    @abc.abstractmethod
    async def adjust(self, item_id: int, taken_delta: int, buyer_deltas: Mapping[int, int]) -> None:
        """Shift counters by deltas (reconcile --repair). Deltas, not absolute values, so reservations
        racing with the repair are never overwritten."""

    @abc.abstractmethod
    def order_for_key(self, buyer_id: int, item_id: int, key: str) -> Awaitable[str | SavedPurchase | None]:
        """The order a buyer's idempotency key already made for this item, if any (a retry whose first
        answer was lost, arriving after the item sold out in this process's eyes): the saved purchase
        where the engine keeps it, else the order's id. A coroutine or a future: an engine may gather
        the look-ups that arrive together into one call."""

    async def lost(self) -> bool:
        """Whether the engine has lost everything it held since it was last loaded (an engine that keeps
        its counts in the database never does)."""
        return False

    async def reload(self, item_ids: Sequence[int]) -> None:
        """Load these items again from the database after a loss (:meth:`lost` is False afterwards)."""
        await self.sync_items(item_ids)

    async def settle_doubt(self, order_id: str) -> bool | None:
        """For an order whose saving failed without the database saying whether it landed: True if it
        did, False if it did not (its reservation is undone now), None if it is not in doubt or still
        cannot be told. Engines that reserve inside the order's own transaction are never in doubt."""
        return None

    async def settle_doubts(self, limit: int = 500) -> int:
        """Settle every reservation in doubt the database can now answer for; how many were."""
        return 0

    async def settle_orphans(self, item_ids: Sequence[int]) -> int:
        """Give back the reservations of these items whose process died between reserving and saving the
        order (long enough ago that the order can no longer land); how many were. Engines that reserve
        inside the order's own transaction leave no orphans."""
        return 0

    async def unsaved_reservations(self, item_id: int) -> dict[int, int]:
        """Units per buyer the engine holds for orders not (yet) in the database: being committed, or
        orphans :meth:`settle_orphans` will give back. Reconcile leaves them to that."""
        return {}

    def follow_restocks(self, on_restock: Callable[[int], None]) -> None:  # noqa: B027 - optional hook
        """Call ``on_restock(item_id)`` whenever units of an item come back, in any process. Engines
        without a news channel (the SQL engine) do nothing: the sold-out board's flags fade instead."""

    async def following(self) -> None:  # noqa: B027 - optional hook
        """Return once restock news reach this process (at once for engines without news)."""

    async def start(self) -> None:  # noqa: B027 - optional hook, most engines need nothing
        """Open connections and background listeners."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Flush pending writes and close connections."""
