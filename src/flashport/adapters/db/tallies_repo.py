"""The live sale board's tallies (``sale_item_tallies``): what was paid and what closed unpaid, per item.

They are written in the transactions that move orders (settlement, expiry, cancellation), so they commit
or roll back with the move: the board never counts a payment that did not happen. Each write adds to one
of :data:`SLOTS` rows of the item, chosen at random, so two settlement groups of one hot item do not wait
for each other's row lock; readers sum the slots.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from flashport.adapters.db.schema import order_lines, orders
from flashport.adapters.db.schema import sale_item_tallies as tallies

SLOTS = 8
_COUNTS = ("paid_orders", "paid_units", "closed_orders", "closed_units")


@dataclass(frozen=True, slots=True)
class Tally:
    paid_orders: int = 0
    paid_units: int = 0
    closed_orders: int = 0
    closed_units: int = 0


def _upsert(conn: AsyncConnection) -> Any:
    insert = (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(tallies)
    return insert.on_conflict_do_update(
        index_elements=[tallies.c.sale_item_id, tallies.c.slot],
        set_={name: tallies.c[name] + insert.excluded[name] for name in _COUNTS},
    )


async def add_paid(conn: AsyncConnection, order_ids: Sequence[str]) -> None:
    """Count these orders, just moved to paid in this transaction, as paid for their items."""
    if not order_ids:
        return
    # An order of one line counts on its own row; a checked-out basket's lines count each on its item.
    single = sa.select(orders.c.sale_item_id.label("item"), orders.c.quantity.label("units")).where(
        orders.c.id.in_(order_ids), orders.c.line_count == 1
    )
    lined = (
        sa.select(order_lines.c.sale_item_id, order_lines.c.quantity)
        .join(orders, orders.c.id == order_lines.c.order_id)
        .where(order_lines.c.order_id.in_(order_ids), orders.c.line_count > 1)
    )
    paid = sa.union_all(single, lined).subquery()
    query = sa.select(
        paid.c.item,
        sa.literal(random.randrange(SLOTS), sa.SmallInteger),
        sa.func.count(),
        sa.func.sum(paid.c.units),
        sa.literal(0, sa.BigInteger),
        sa.literal(0, sa.BigInteger),
    ).group_by(paid.c.item)
    await conn.execute(_upsert(conn).from_select(["sale_item_id", "slot", *_COUNTS], query))


async def add_closed(conn: AsyncConnection, moved: Iterable[Mapping[Any, Any]]) -> None:
    """Count these orders (rows with ``sale_item_id`` and ``quantity``: one per line of an order of
    several, see ``orders_repo.per_line``), just closed unpaid."""
    per_item: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for row in moved:
        counts = per_item[row["sale_item_id"]]
        counts[0] += 1
        counts[1] += row["quantity"]
    if not per_item:
        return
    slot = random.randrange(SLOTS)
    await conn.execute(
        _upsert(conn),
        [
            {
                "sale_item_id": item_id,
                "slot": slot,
                "paid_orders": 0,
                "paid_units": 0,
                "closed_orders": n,
                "closed_units": units,
            }
            for item_id, (n, units) in sorted(per_item.items())
        ],
    )


async def read(conn: AsyncConnection, item_ids: Sequence[int]) -> dict[int, Tally]:
    """The summed tally of each item (zeros for an item with none)."""
    if not item_ids:
        return {}
    query = (
        sa.select(tallies.c.sale_item_id, *(sa.func.sum(tallies.c[name]) for name in _COUNTS))
        .where(tallies.c.sale_item_id.in_(item_ids))
        .group_by(tallies.c.sale_item_id)
    )
    found = {row[0]: Tally(*(int(v or 0) for v in row[1:])) for row in await conn.execute(query)}
    return {item_id: found.get(item_id, Tally()) for item_id in item_ids}
