"""The SQL stock engine (embedded default): conditional UPDATEs in the order's own transaction.

The sale_items row holds the counters (``reserved``, ``sold``) and a CHECK constraint forbids
``reserved + sold > quantity``; the UPDATE's WHERE clause makes a losing racer change nothing instead
of failing. Per-buyer units live in buyer_item_units, updated the same way. Each order gets a
SAVEPOINT inside the group-committed transaction, so one refused order never undoes its neighbours.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from flashport.adapters.db import orders_repo
from flashport.adapters.db.commit_pace import Pace
from flashport.adapters.db.engine import reading
from flashport.adapters.db.group_commit import GroupCommitter, in_transaction
from flashport.adapters.db.schema import buyer_item_units, sale_events, sale_items
from flashport.adapters.stock.interface import Counters, Placement, PlacementKind, StockEngine
from flashport.domain.errors import DomainError, ServiceUnavailable
from flashport.domain.orders import OrderDraft, RejectReason, sale_window_reason


class SqlStockEngine(StockEngine):
    name = "sql"

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        max_in_flight: int = 1,
        linger: float = 0.0,
        pace: Pace | None = None,
    ) -> None:
        self._engine = engine
        # SQLite has one writer at a time, so more than one transaction in flight only queues.
        self._committer: GroupCommitter[OrderDraft, Placement] = GroupCommitter(
            in_transaction(engine, self._place_batch),
            max_in_flight=max_in_flight,
            linger_seconds=linger,
            pace=pace,
        )

    async def place(self, draft: OrderDraft) -> Placement:
        try:
            return await self._committer.submit(draft)
        except DomainError:
            raise
        except Exception as exc:
            # The transaction rolled back, reservation included. (If the COMMIT itself was cut off
            # and did land, a retry with the same Idempotency-Key finds the order.)
            raise ServiceUnavailable(
                "the order could not be saved; nothing was reserved, please retry with the same key",
                code="order_not_saved",
            ) from exc

    async def _place_batch(self, conn: AsyncConnection, drafts: Sequence[OrderDraft]) -> list[Placement]:
        """Judged by item id, and in arrival order within an item (a stable sort), so every transaction
        that touches several items' rows (this one, an expiry sweep) locks them in the same order and
        none can deadlock with another."""
        results: dict[int, Placement] = {}
        for index in sorted(range(len(drafts)), key=lambda i: drafts[i].terms.item_id):
            draft = drafts[index]
            try:
                async with conn.begin_nested() as savepoint:
                    placement = await self._place_one(conn, draft)
                    if placement.kind is not PlacementKind.CREATED:
                        await savepoint.rollback()
            except IntegrityError:
                # Another transaction committed this buyer's key between our look-up and our INSERT
                # (PostgreSQL waited for it); the savepoint undid our reservation, so answer with theirs.
                existing = await orders_repo.find_by_key(conn, draft.buyer_id, draft.idempotency_key)
                if existing is None:
                    raise
                placement = Placement(PlacementKind.DUPLICATE, order_id=existing.id)
            results[index] = placement
        return [results[index] for index in range(len(drafts))]

    async def order_for_key(self, buyer_id: int, item_id: int, key: str) -> str | None:
        async with reading(self._engine) as conn:
            existing = await orders_repo.find_by_key(conn, buyer_id, key)
        return None if existing is None else str(existing.id)

    async def _place_one(self, conn: AsyncConnection, draft: OrderDraft) -> Placement:
        existing = await orders_repo.find_by_key(conn, draft.buyer_id, draft.idempotency_key)
        if existing is not None:
            return Placement(PlacementKind.DUPLICATE, order_id=existing.id)
        now, qty = draft.created_at, draft.quantity
        live_event = sa.select(sale_events.c.id).where(
            sale_events.c.id == sale_items.c.event_id,
            sale_events.c.state == "scheduled",
            sale_events.c.starts_at <= now,
            sale_events.c.ends_at > now,
        )
        taken = await conn.execute(
            sale_items.update()
            .where(
                sale_items.c.id == draft.terms.item_id,
                sale_items.c.reserved + sale_items.c.sold + qty <= sale_items.c.quantity,
                live_event.exists(),
            )
            .values(reserved=sale_items.c.reserved + qty)
            .returning(sale_items.c.quantity - sale_items.c.reserved - sale_items.c.sold)
        )
        left = taken.scalar()
        if left is None:
            return await self._why_not(conn, draft)
        if not await self._count_for_buyer(conn, draft):
            return Placement.rejected(RejectReason.BUYER_LIMIT)
        await orders_repo.insert_drafts(conn, [draft])
        return Placement(PlacementKind.CREATED, order_id=draft.id, remaining=int(left))

    async def _count_for_buyer(self, conn: AsyncConnection, draft: OrderDraft) -> bool:
        limit = draft.terms.per_buyer_limit
        if draft.quantity > limit:
            return False
        insert = (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(buyer_item_units)
        stmt = insert.values(sale_item_id=draft.terms.item_id, buyer_id=draft.buyer_id, units=draft.quantity)
        stmt = stmt.on_conflict_do_update(
            index_elements=[buyer_item_units.c.sale_item_id, buyer_item_units.c.buyer_id],
            set_={"units": buyer_item_units.c.units + stmt.excluded.units},
            where=buyer_item_units.c.units + stmt.excluded.units <= limit,
        )
        return (await conn.execute(stmt)).rowcount == 1

    async def _why_not(self, conn: AsyncConnection, draft: OrderDraft) -> Placement:
        terms = await orders_repo.load_terms(conn, draft.terms.item_id)
        if terms is None:
            return Placement.rejected(RejectReason.UNKNOWN_ITEM)
        reason = sale_window_reason(terms, draft.created_at)
        return Placement.rejected(reason or RejectReason.SOLD_OUT, remaining=0 if reason is None else None)

    async def release_within(self, conn: AsyncConnection, orders: Sequence[Mapping[str, Any]]) -> bool:
        """One UPDATE per item and counter, one executemany for the buyers' units, whatever the number
        of orders. Rows are touched in sorted order so two sweepers of overlapping items always lock
        them in the same order and cannot deadlock."""
        units: defaultdict[tuple[int, str], int] = defaultdict(int)
        per_buyer: defaultdict[tuple[int, int], int] = defaultdict(int)
        for order in orders:
            counter = "sold" if order["status_before"] == "paid" else "reserved"
            units[(order["sale_item_id"], counter)] += order["quantity"]
            per_buyer[(order["sale_item_id"], order["buyer_id"])] += order["quantity"]
        for (item_id, counter), qty in sorted(units.items()):
            column = sale_items.c[counter]
            await conn.execute(
                sale_items.update().where(sale_items.c.id == item_id).values({counter: column - qty})
            )
        if per_buyer:
            await conn.execute(
                buyer_item_units.update()
                .where(
                    buyer_item_units.c.sale_item_id == sa.bindparam("b_item"),
                    buyer_item_units.c.buyer_id == sa.bindparam("b_buyer"),
                )
                .values(units=buyer_item_units.c.units - sa.bindparam("b_units")),
                [
                    {"b_item": item_id, "b_buyer": buyer_id, "b_units": qty}
                    for (item_id, buyer_id), qty in sorted(per_buyer.items())
                ],
            )
        return True

    async def confirm_within(self, conn: AsyncConnection, order: Mapping[str, Any]) -> None:
        qty = order["quantity"]
        await conn.execute(
            sale_items.update()
            .where(sale_items.c.id == order["sale_item_id"])
            .values(reserved=sale_items.c.reserved - qty, sold=sale_items.c.sold + qty)
        )

    async def release_after(self, orders: Sequence[Mapping[str, Any]]) -> None:
        return None  # everything happened in release_within

    async def remaining(self, item_ids: Sequence[int]) -> dict[int, int]:
        async with reading(self._engine) as conn:
            rows = await conn.execute(
                sa.select(
                    sale_items.c.id, sale_items.c.quantity - sale_items.c.reserved - sale_items.c.sold
                ).where(sale_items.c.id.in_(item_ids))
            )
            return {row[0]: max(0, int(row[1])) for row in rows}

    async def sync_items(self, item_ids: Sequence[int]) -> None:
        return None  # the counters live in the database rows themselves

    async def read_counters(self, item_id: int) -> Counters | None:
        async with reading(self._engine) as conn:
            row = (
                await conn.execute(
                    sa.select(sale_items.c.reserved, sale_items.c.sold).where(sale_items.c.id == item_id)
                )
            ).first()
            if row is None:
                return None
            buyers = await conn.execute(
                sa.select(buyer_item_units.c.buyer_id, buyer_item_units.c.units).where(
                    buyer_item_units.c.sale_item_id == item_id, buyer_item_units.c.units > 0
                )
            )
            return Counters(row.reserved + row.sold, {b: u for b, u in buyers})

    async def adjust(self, item_id: int, taken_delta: int, buyer_deltas: Mapping[int, int]) -> None:
        # Units held in the wrong place are always pending ones: paid units are never in doubt.
        async with self._engine.begin() as conn:
            await conn.execute(
                sale_items.update()
                .where(sale_items.c.id == item_id)
                .values(reserved=sale_items.c.reserved + taken_delta)
            )
            for buyer_id, delta in buyer_deltas.items():
                updated = await conn.execute(
                    buyer_item_units.update()
                    .where(
                        buyer_item_units.c.sale_item_id == item_id, buyer_item_units.c.buyer_id == buyer_id
                    )
                    .values(units=buyer_item_units.c.units + delta)
                )
                if updated.rowcount == 0 and delta > 0:
                    await conn.execute(
                        buyer_item_units.insert().values(sale_item_id=item_id, buyer_id=buyer_id, units=delta)
                    )

    async def close(self) -> None:
        await self._committer.drain()
