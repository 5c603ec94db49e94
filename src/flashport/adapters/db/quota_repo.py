"""SQL for the annual-quota ledger: what each buyer identity has paid per customs year (rule 8)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from flashport.adapters.db.schema import identity_year_totals as totals


async def paid_in_year(conn: AsyncConnection, id_hash: str, year: int) -> int:
    paid = await conn.scalar(
        sa.select(totals.c.paid_fen).where(totals.c.id_hash == id_hash, totals.c.year == year)
    )
    return int(paid or 0)


async def add_within_limit(
    conn: AsyncConnection, id_hash: str, year: int, amount_fen: int, limit_fen: int, now: datetime
) -> bool:
    """Add ``amount_fen`` to the identity's total of ``year`` if the total stays within ``limit_fen``;
    False (and nothing written) otherwise. One conditional upsert: of two transactions racing for the
    last of the quota, the second waits for the first's row and re-checks against its committed total."""
    if amount_fen > limit_fen:  # the INSERT branch has no WHERE: refuse before it
        return False
    dialect_insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    insert = dialect_insert(totals).values(id_hash=id_hash, year=year, paid_fen=amount_fen, updated_at=now)
    stmt = insert.on_conflict_do_update(
        index_elements=[totals.c.id_hash, totals.c.year],
        set_={
            "paid_fen": totals.c.paid_fen + insert.excluded.paid_fen,
            "updated_at": insert.excluded.updated_at,
        },
        where=totals.c.paid_fen + insert.excluded.paid_fen <= limit_fen,
    )
    return (await conn.execute(stmt)).rowcount == 1


async def take_back(conn: AsyncConnection, id_hash: str, year: int, amount_fen: int, now: datetime) -> None:
    """Subtract ``amount_fen`` from the identity's total of ``year`` (never below zero)."""
    await conn.execute(
        totals.update()
        .where(totals.c.id_hash == id_hash, totals.c.year == year, totals.c.paid_fen >= amount_fen)
        .values(paid_fen=totals.c.paid_fen - amount_fen, updated_at=now)
    )
