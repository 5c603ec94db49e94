"""Reconciliation (rule 10): the stock engine's counters against the database truth.

Truth per item and buyer = units of that buyer's pending and paid orders, plus units of closed orders
whose release has not reached the engine yet. Read order matters: the database first, then the engine,
so every committed order's reservation is already visible in the engine and a healthy engine never
shows less than the truth.

Reservations whose order is not in the database are left out on the engine's side
(``StockEngine.unsaved_reservations``): orders still being committed, and orphans of a process killed
between reserving and committing, which the engine's orphan sweep gives back itself (moving them here
too would give them back twice). A difference that remains can be (a) a reservation whose order was
saved between the readings (gone at the next one) or (b) a real leak: lost or damaged counters. Repair only
moves what is *stable*: it takes two readings ``settle`` seconds apart and, per buyer, shifts by the
smaller difference of the same sign, so an in-flight purchase is never mistaken for a leak.

It also looks for references that point at nothing: orders and order lines have no foreign keys (they
cost a row lookup per order on the hottest write, migration 0007), so an order whose buyer, event or
item, or a line whose order, item or SKU, is gone shows up here. Those are reported, never repaired:
only a person can tell what the row should point at.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from flashport.adapters.db import orders_repo, sales_repo
from flashport.services.context import Context


@dataclass(frozen=True)
class ItemReport:
    """One item's counters against the truth, and what a repair moved (None: nothing)."""

    item_id: int
    truth_taken: int
    engine_taken: int | None  # None: the engine holds nothing for the item
    buyer_differences: dict[int, int] = field(default_factory=dict)  # engine - truth, per buyer
    repaired_by: int | None = None
    # Units the engine holds for orders not in the database: being saved, or orphans of a process that
    # died before saving them, which the stock engine's orphan sweep gives back (not reconcile's to move).
    # ``engine_taken`` and the differences leave them out.
    unsaved: int = 0

    @property
    def difference(self) -> int | None:
        return None if self.engine_taken is None else self.engine_taken - self.truth_taken

    @property
    def agrees(self) -> bool:
        return self.difference == 0 and not self.buyer_differences


@dataclass(frozen=True)
class DanglingReferences:
    """Rows of one kind whose reference points at nothing, e.g. "orders whose buyer does not exist"."""

    what: str
    count: int
    examples: list[str]  # keys of the first few rows (order id, or order id:line number)


async def dangling_references(ctx: Context) -> list[DanglingReferences]:
    """Every kind of dangling reference in the orders and their lines; empty when all is well."""
    async with ctx.read() as conn:
        found = await orders_repo.dangling_references(conn)
    return [DanglingReferences(what, count, examples) for what, count, examples in found]


async def live_item_ids(ctx: Context) -> list[int]:
    """The items of every event on sale at ``ctx.clock()``, by id."""
    now = ctx.clock()
    async with ctx.read() as conn:
        return await sales_repo.live_item_ids(conn, now)


async def _reading(ctx: Context, item_ids: Sequence[int]) -> list[ItemReport]:
    async with ctx.read() as conn:
        truth = await orders_repo.taken_truth(conn, item_ids)
    reports = []
    for item_id in item_ids:
        counters = await ctx.stock.read_counters(item_id)
        taken, per_buyer = truth[item_id]
        differences: dict[int, int] = {}
        unsaved: dict[int, int] = {}
        if counters is not None:
            # Read after the counters: an order saved in between is counted by neither, and shows as a
            # difference in this reading only.
            unsaved = await ctx.stock.unsaved_reservations(item_id)
            for buyer in set(per_buyer) | set(counters.per_buyer):
                diff = counters.per_buyer.get(buyer, 0) - per_buyer.get(buyer, 0) - unsaved.get(buyer, 0)
                if diff:
                    differences[buyer] = diff
        reports.append(
            ItemReport(
                item_id,
                taken,
                None if counters is None else counters.taken - sum(unsaved.values()),
                differences,
                unsaved=sum(unsaved.values()),
            )
        )
    return reports


async def reconcile(
    ctx: Context, item_ids: Sequence[int] | None = None, *, repair: bool = False, settle: float = 2.0
) -> list[ItemReport]:
    """Compare (and with ``repair`` fix) the counters of the given items, by default every live one."""
    ids = list(item_ids) if item_ids is not None else await live_item_ids(ctx)
    first = await _reading(ctx, ids)
    if not repair or all(r.agrees for r in first):
        return first
    await asyncio.sleep(settle)
    second = {r.item_id: r for r in await _reading(ctx, ids)}
    for before in first:
        after = second[before.item_id]
        if after.engine_taken is None:  # counters lost entirely: rebuild them from the truth
            await ctx.stock.sync_items([before.item_id])
            second[before.item_id] = replace(after, repaired_by=after.truth_taken)
            continue
        deltas = _stable_deltas(before.buyer_differences, after.buyer_differences)
        if deltas:
            await ctx.stock.adjust(before.item_id, -sum(deltas.values()), {b: -d for b, d in deltas.items()})
            second[before.item_id] = replace(after, repaired_by=-sum(deltas.values()))
    return list(second.values())


def _stable_deltas(first: dict[int, int], second: dict[int, int]) -> dict[int, int]:
    """Per buyer, the part of the difference present with the same sign in both readings."""
    stable = {}
    for buyer, a in first.items():
        b = second.get(buyer, 0)
        if a > 0 and b > 0:
            stable[buyer] = min(a, b)
        elif a < 0 and b < 0:
            stable[buyer] = max(a, b)
    return stable
