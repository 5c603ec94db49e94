"""SQL for the editions of the positive list that operators load. The newest edition (highest id) is
the one in force; with none loaded, the edition shipped in the package is (the services decide that)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from flashport.adapters.db.schema import positive_list_editions, positive_list_goods
from flashport.domain.customs_goods import ListedGoods, PositiveList


class EditionTaken(Exception):
    """An edition of that name is loaded already."""


async def newest_edition(conn: AsyncConnection) -> tuple[int, str, str] | None:
    """(id, edition, source) of the edition in force, or None when none was loaded."""
    e = positive_list_editions.c
    row = (await conn.execute(sa.select(e.id, e.edition, e.source).order_by(e.id.desc()).limit(1))).first()
    return None if row is None else (int(row.id), str(row.edition), str(row.source))


async def listed(conn: AsyncConnection, edition_id: int, hs_code: str) -> ListedGoods | None:
    g = positive_list_goods.c
    query = sa.select(g.hs_code, g.name, g.legal_unit, g.second_legal_unit).where(
        g.edition_id == edition_id, g.hs_code == hs_code
    )
    row = (await conn.execute(query)).first()
    return None if row is None else ListedGoods(**row._mapping)


async def goods_of(conn: AsyncConnection, edition_id: int) -> dict[str, ListedGoods]:
    g = positive_list_goods.c
    query = (
        sa.select(g.hs_code, g.name, g.legal_unit, g.second_legal_unit)
        .where(g.edition_id == edition_id)
        .order_by(g.hs_code)
    )
    return {row.hs_code: ListedGoods(**row._mapping) for row in await conn.execute(query)}


async def insert_edition(conn: AsyncConnection, edition: PositiveList, now: datetime) -> int:
    taken = await conn.scalar(
        sa.select(positive_list_editions.c.id).where(positive_list_editions.c.edition == edition.edition)
    )
    if taken is not None:
        raise EditionTaken(edition.edition)
    edition_id = int(
        await conn.scalar(
            positive_list_editions.insert()
            .values(edition=edition.edition, source=edition.source, created_at=now)
            .returning(positive_list_editions.c.id)
        )
    )
    rows = [
        {
            "edition_id": edition_id,
            "hs_code": line.hs_code,
            "name": line.name,
            "legal_unit": line.legal_unit,
            "second_legal_unit": line.second_legal_unit,
        }
        for line in edition.goods.values()
    ]
    await conn.execute(positive_list_goods.insert(), rows)
    return edition_id
