"""Every column that holds something sealed by the identity vault, read and rewritten in batches: what a
rotation of the identity key needs (``flashport reseal-identities``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from flashport.adapters.db.schema import customs_batches, customs_messages, identities, orders, payments

SEALED_COLUMNS: tuple[tuple[sa.Table, str], ...] = (
    (identities, "id_cipher"),
    (orders, "buyer_id_cipher"),
    (payments, "payer_id_cipher"),
    (customs_messages, "body_cipher"),
    (customs_batches, "body_cipher"),
)


async def reseal_batch(
    conn: AsyncConnection, table: sa.Table, column: str, after: Any, limit: int, reseal: Callable[[str], str]
) -> tuple[Any, int]:
    """Rewrite up to ``limit`` sealed values of ``table.column`` whose key comes after ``after`` (None:
    from the start) with ``reseal``; the last key done (None when there were none) and how many."""
    key = next(iter(table.primary_key.columns))
    sealed = table.c[column]
    query = sa.select(key, sealed).where(sealed.is_not(None)).order_by(key).limit(limit)
    if after is not None:
        query = query.where(key > after)
    rows = (await conn.execute(query)).all()
    for row in rows:
        await conn.execute(table.update().where(key == row[0]).values({column: reseal(row[1])}))
    return (rows[-1][0] if rows else None), len(rows)
