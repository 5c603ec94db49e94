"""SQL for buyers' saved delivery addresses. Every function works in the caller's connection and only
on the given buyer's rows."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from flashport.adapters.db.schema import buyer_addresses
from flashport.domain.addresses import AddressDraft, SavedAddress


def _address(m: sa.RowMapping) -> SavedAddress:
    return SavedAddress(
        id=m["id"],
        buyer_id=m["buyer_id"],
        name=m["name"],
        phone=m["phone"],
        district_code=m["district_code"],
        street=m["street"],
        created_at=m["created_at"],
    )


async def list_for_buyer(conn: AsyncConnection, buyer_id: int) -> list[SavedAddress]:
    """Newest first: the address saved last is the one a buyer most likely wants."""
    query = (
        sa.select(buyer_addresses)
        .where(buyer_addresses.c.buyer_id == buyer_id)
        .order_by(buyer_addresses.c.id.desc())
    )
    return [_address(row) for row in (await conn.execute(query)).mappings()]


async def count_for_buyer(conn: AsyncConnection, buyer_id: int) -> int:
    query = (
        sa.select(sa.func.count()).select_from(buyer_addresses).where(buyer_addresses.c.buyer_id == buyer_id)
    )
    return int(await conn.scalar(query) or 0)


async def find(conn: AsyncConnection, buyer_id: int, address_id: int) -> SavedAddress | None:
    query = sa.select(buyer_addresses).where(
        buyer_addresses.c.id == address_id, buyer_addresses.c.buyer_id == buyer_id
    )
    row = (await conn.execute(query)).mappings().first()
    return None if row is None else _address(row)


async def insert(conn: AsyncConnection, buyer_id: int, draft: AddressDraft, now: datetime) -> SavedAddress:
    values = {
        "buyer_id": buyer_id,
        "name": draft.name,
        "phone": draft.phone,
        "district_code": draft.district_code,
        "street": draft.street,
        "created_at": now,
    }
    new_id = await conn.scalar(buyer_addresses.insert().values(**values).returning(buyer_addresses.c.id))
    return SavedAddress(id=int(new_id or 0), **values)  # type: ignore[arg-type]


async def delete(conn: AsyncConnection, buyer_id: int, address_id: int) -> bool:
    result = await conn.execute(
        buyer_addresses.delete().where(
            buyer_addresses.c.id == address_id, buyer_addresses.c.buyer_id == buyer_id
        )
    )
    return bool(result.rowcount)
