"""The basket's rows: each buyer's room (``baskets``) and the units held for it (``basket_units``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from flashport.adapters.db.schema import (
    basket_checkouts,
    basket_units,
    baskets,
    order_lines,
    orders,
    sale_items,
)
from flashport.domain.basket import BasketRoom, HeldUnits

_NEVER = datetime(2000, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class HeldUnit:
    """A unit in the basket, as its holding order shows it."""

    order_id: str
    order_no: str
    sale_item_id: int
    title: str
    unit_price_fen: int
    added_at: datetime
    hold_until: datetime


async def lock_room(conn: AsyncConnection, buyer_id: int) -> BasketRoom | None:
    """The buyer's room, locked until the transaction ends (None: an empty, new basket). The row is
    made first when missing, so two first adds of one buyer queue on it rather than both passing."""
    insert = (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(baskets)
    await conn.execute(
        insert.values(
            buyer_id=buyer_id, warehouse_id=0, opened_at=_NEVER, hold_until=_NEVER, units=0, goods_fen=0
        ).on_conflict_do_nothing(index_elements=[baskets.c.buyer_id])
    )
    row = (
        await conn.execute(sa.select(baskets).where(baskets.c.buyer_id == buyer_id).with_for_update())
    ).first()
    if row is None or row.units == 0:
        return None
    return BasketRoom(row.warehouse_id, row.opened_at, row.hold_until, row.units, row.goods_fen)


async def save_room(conn: AsyncConnection, buyer_id: int, room: BasketRoom) -> None:
    await conn.execute(
        baskets.update()
        .where(baskets.c.buyer_id == buyer_id)
        .values(
            warehouse_id=room.warehouse_id,
            opened_at=room.opened_at,
            hold_until=room.hold_until,
            units=room.units,
            goods_fen=room.goods_fen,
        )
    )


async def warehouse_of(conn: AsyncConnection, item_id: int) -> int | None:
    return await conn.scalar(sa.select(sale_items.c.warehouse_id).where(sale_items.c.id == item_id))


async def add_unit(
    conn: AsyncConnection,
    order_id: str,
    buyer_id: int,
    item_id: int,
    price_fen: int,
    now: datetime,
    hold: datetime,
) -> None:
    await conn.execute(
        basket_units.insert().values(
            order_id=order_id,
            buyer_id=buyer_id,
            sale_item_id=item_id,
            unit_price_fen=price_fen,
            added_at=now,
            hold_until=hold,
        )
    )


async def drop_unit(conn: AsyncConnection, order_id: str) -> None:
    """Forget a unit whose reservation was refused: its order was never made."""
    await conn.execute(basket_units.delete().where(basket_units.c.order_id == order_id))


async def mark_removed(conn: AsyncConnection, order_id: str, now: datetime) -> None:
    await conn.execute(
        basket_units.update().where(basket_units.c.order_id == order_id).values(removed_at=now)
    )


async def unit_price(conn: AsyncConnection, order_id: str) -> int:
    return int(
        await conn.scalar(sa.select(basket_units.c.unit_price_fen).where(basket_units.c.order_id == order_id))
        or 0
    )


async def is_basket_order(conn: AsyncConnection, order_id: str) -> bool:
    found = await conn.scalar(sa.select(basket_units.c.order_id).where(basket_units.c.order_id == order_id))
    return found is not None


async def held_units(conn: AsyncConnection, buyer_id: int, now: datetime) -> list[HeldUnit]:
    """The units the buyer's basket holds now: not removed, hold not over, order still pending."""
    query = (
        sa.select(
            basket_units.c.order_id,
            orders.c.order_no,
            basket_units.c.sale_item_id,
            order_lines.c.title,
            basket_units.c.unit_price_fen,
            basket_units.c.added_at,
            basket_units.c.hold_until,
        )
        .join(orders, orders.c.id == basket_units.c.order_id)
        .join(order_lines, sa.and_(order_lines.c.order_id == orders.c.id, order_lines.c.line_no == 1))
        .where(
            basket_units.c.buyer_id == buyer_id,
            basket_units.c.hold_until > now,
            basket_units.c.removed_at.is_(None),
            orders.c.status == "pending_payment",
        )
        .order_by(basket_units.c.added_at, basket_units.c.order_id)
    )
    return [HeldUnit(*row) for row in await conn.execute(query)]


# --- checking the basket out (docs/basket.md, "Checking out") ---------------------------------------


async def lock_held(conn: AsyncConnection, buyer_id: int, now: datetime) -> list[HeldUnits]:
    """Inside a transaction: the holding orders of the buyer's basket that can still be folded (pending,
    hold not over, not removed), locked (``FOR UPDATE`` of the orders' rows) in id order, so two
    checkouts of one basket lock them in the same order and cannot deadlock. An expiry sweep skips
    rows held here (``SKIP LOCKED``); a sweep that took one first has it locked, and this waits and then
    leaves it out (PostgreSQL re-reads the row's status once its lock is free)."""
    query = (
        sa.select(
            orders.c.id,
            orders.c.sale_item_id,
            orders.c.event_id,
            order_lines.c.sku_id,
            order_lines.c.title,
            order_lines.c.unit_price_fen,
            orders.c.quantity,
            orders.c.fulfilment,
            basket_units.c.added_at,
        )
        .join(basket_units, basket_units.c.order_id == orders.c.id)
        .join(order_lines, sa.and_(order_lines.c.order_id == orders.c.id, order_lines.c.line_no == 1))
        .where(
            basket_units.c.buyer_id == buyer_id,
            basket_units.c.removed_at.is_(None),
            orders.c.buyer_id == buyer_id,
            orders.c.status == "pending_payment",
            orders.c.payment_deadline > now,
        )
        .order_by(orders.c.id)
        .with_for_update(of=orders)
    )
    return [HeldUnits(*row) for row in await conn.execute(query)]


async def merge(
    conn: AsyncConnection, order_ids: Sequence[str], into: str, now: datetime
) -> list[tuple[str, str, datetime]]:
    """Move those of ``order_ids`` still pending and inside their hold to ``merged`` (pointing at
    ``into``), in one conditional UPDATE: (id, order_no, deadline) of each moved. Their units are not
    returned: they are the order ``into``'s now. Of a checkout, a sweep and a removal racing for one
    holding order, the status condition lets exactly one move it."""
    if not order_ids:
        return []
    moved = await conn.execute(
        orders.update()
        .where(
            orders.c.id.in_(list(order_ids)),
            orders.c.status == "pending_payment",
            orders.c.payment_deadline > now,
        )
        .values(status="merged", merged_into=into, closed_at=now)
        .returning(orders.c.id, orders.c.order_no, orders.c.payment_deadline)
    )
    return [(str(i), str(n), d) for i, n, d in moved.all()]


async def checkout_by_key(conn: AsyncConnection, buyer_id: int, key: str) -> str | None:
    """The order an earlier checkout of this buyer with this Idempotency-Key made, if any."""
    found = await conn.scalar(
        sa.select(basket_checkouts.c.order_id).where(
            basket_checkouts.c.buyer_id == buyer_id, basket_checkouts.c.idempotency_key == key
        )
    )
    return None if found is None else str(found)


async def record_checkout_key(
    conn: AsyncConnection, buyer_id: int, key: str, order_id: str, now: datetime
) -> bool:
    """Claim the key for this checkout; False when an earlier checkout has it. Written first in the
    checkout's transaction: a concurrent checkout with the same key waits here (PostgreSQL) until the
    first commits, then finds the key taken."""
    insert = (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(basket_checkouts)
    claimed = await conn.execute(
        insert.values(
            buyer_id=buyer_id, idempotency_key=key, order_id=order_id, created_at=now
        ).on_conflict_do_nothing(
            index_elements=[basket_checkouts.c.buyer_id, basket_checkouts.c.idempotency_key]
        )
    )
    return claimed.rowcount == 1
