"""The basket's rows: each buyer's room (``baskets``) and the units held for it (``basket_units``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from flashport.adapters.db.schema import basket_units, baskets, order_lines, orders, sale_items
from flashport.domain.basket import BasketRoom

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
