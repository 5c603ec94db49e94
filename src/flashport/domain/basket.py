"""The basket: several units of live sales bought as one, shipped from one warehouse.

Each unit is reserved the moment it goes in (the stock engine, as the buy path does) and held until the
basket's hold ends: the payment window counted from the first add. Here, the pure part: whether a unit
fits the basket's room (one warehouse, goods within the single-transaction limit) and how long is left.
"""

from __future__ import annotations

from dataclasses import dataclass
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
