"""The basket: several units of live sales bought as one, shipped from one warehouse.

Each unit is reserved the moment it goes in (the stock engine, as the buy path does) and held until the
basket's hold ends: the payment window counted from the first add. Here, the pure part: whether a unit
fits the basket's room (one warehouse, goods within the single-transaction limit) and how long is left.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from flashport.domain.errors import Conflict, FieldProblem
from flashport.domain.limits import single_limit_refusal


@dataclass(frozen=True)
class BasketRoom:
    """What a buyer's basket takes: the warehouse its units ship from, its hold, and its goods."""

    warehouse_id: int
    opened_at: datetime
    hold_until: datetime
    units: int
    goods_fen: int

    def is_open(self, now: datetime) -> bool:
        return self.units > 0 and now < self.hold_until


def claim(
    room: BasketRoom | None,
    *,
    now: datetime,
    window: timedelta,
    warehouse_id: int,
    price_fen: int,
    limit_fen: int | None,
    extras_fen: int = 0,
) -> BasketRoom:
    """The basket's room once one more unit is in: a new basket (and a new hold) when there is none
    open, else the same hold. Refuses a unit from another warehouse, or one that would take the
    goods (plus ``extras_fen``, the freight and insurance of the one order) past ``limit_fen``."""
    if room is None or not room.is_open(now):
        room = BasketRoom(warehouse_id, now, now + window, 0, 0)
    elif room.warehouse_id != warehouse_id:
        raise Conflict(
            "this item ships from another warehouse than those in your basket; buy it on its own, or "
            "remove the basket's units first",
            code="basket_other_warehouse",
            details=[FieldProblem("sale_item_id", "an item from the same warehouse as your basket")],
        )
    goods = room.goods_fen + price_fen
    if limit_fen is not None and room.units > 0 and goods + extras_fen > limit_fen:
        raise single_limit_refusal(goods + extras_fen, limit_fen)
    return BasketRoom(room.warehouse_id, room.opened_at, room.hold_until, room.units + 1, goods)


def give_back(room: BasketRoom, price_fen: int) -> BasketRoom:
    """The room once a unit has left (removed, or its reservation refused after the claim)."""
    return BasketRoom(
        room.warehouse_id,
        room.opened_at,
        room.hold_until,
        max(0, room.units - 1),
        max(0, room.goods_fen - price_fen),
    )


def seconds_left(hold_until: datetime, now: datetime) -> int:
    """Whole seconds until the hold ends, never negative (rounded down: never promise a second more)."""
    return max(0, int((hold_until - now).total_seconds()))


@dataclass(frozen=True)
class HeldUnits:
    """What one holding order of the basket holds, as checkout folds it."""

    order_id: str
    item_id: int
    event_id: int
    sku_id: int
    title: str
    unit_price_fen: int
    quantity: int
    fulfilment: str  # every unit of a basket ships from one warehouse, so all have the same
    added_at: datetime


@dataclass(frozen=True)
class FoldedLine:
    """One line of a checked-out basket: every held unit of one item at one price."""

    line_no: int
    item_id: int
    event_id: int
    sku_id: int
    title: str
    unit_price_fen: int
    quantity: int

    @property
    def total_fen(self) -> int:
        return self.unit_price_fen * self.quantity


def fold(held: Sequence[HeldUnits]) -> tuple[FoldedLine, ...]:
    """The lines of the one order a basket is checked out as: one line per item (per item and price,
    should a price ever differ, so that each line's total stays price times quantity as customs checks),
    quantities summed, in the order the items first went in."""
    lines: dict[tuple[int, int], FoldedLine] = {}
    for unit in sorted(held, key=lambda unit: (unit.added_at, unit.order_id)):
        key = (unit.item_id, unit.unit_price_fen)
        found = lines.get(key)
        if found is None:
            lines[key] = FoldedLine(
                len(lines) + 1,
                unit.item_id,
                unit.event_id,
                unit.sku_id,
                unit.title,
                unit.unit_price_fen,
                unit.quantity,
            )
        else:
            lines[key] = replace(found, quantity=found.quantity + unit.quantity)
    return tuple(lines.values())


def empty_basket() -> Conflict:
    return Conflict(
        "your basket holds nothing to check out: its hold has ended or its units were removed",
        code="basket_empty",
    )
