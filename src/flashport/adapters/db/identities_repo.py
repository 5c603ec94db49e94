"""SQL for buyers' real-name identities. Every function works in the caller's connection; none sees
an ID number in clear (only its cipher, mask and keyed hash)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from flashport.adapters.db.schema import identities


class AlreadyStored(Exception):
    """The buyer has this identity (the same ID number) already."""


@dataclass(frozen=True)
class StoredIdentity:
    id: int
    buyer_id: int
    name: str
    id_cipher: str  # sealed by the identity vault
    id_masked: str
    id_hash: str
    created_at: datetime
    phone: str | None = None  # the person's own mobile (buyerTelephone), when given


def _identity(m: sa.RowMapping) -> StoredIdentity:
    return StoredIdentity(
        id=m["id"],
        buyer_id=m["buyer_id"],
        name=m["name"],
        id_cipher=m["id_cipher"],
        id_masked=m["id_masked"],
        id_hash=m["id_hash"],
        created_at=m["created_at"],
        phone=m["phone"],
    )


async def has_number(conn: AsyncConnection, buyer_id: int, id_hash: str) -> bool:
    """Whether the buyer already has an identity with this number (by its keyed hash)."""
    found = await conn.scalar(
        sa.select(identities.c.id).where(identities.c.buyer_id == buyer_id, identities.c.id_hash == id_hash)
    )
    return found is not None


async def insert(
    conn: AsyncConnection,
    *,
    buyer_id: int,
    name: str,
    id_cipher: str,
    id_masked: str,
    id_hash: str,
    now: datetime,
    phone: str | None = None,
) -> StoredIdentity:
    """Raises :class:`AlreadyStored` when the buyer has the number already (unique on buyer and hash);
    the caller's transaction is then unusable and must end."""
    try:
        row = await _insert(conn, buyer_id, name, id_cipher, id_masked, id_hash, now, phone)
    except IntegrityError as exc:
        raise AlreadyStored(f"buyer {buyer_id} has this identity already") from exc
    return _identity(row._mapping)


async def _insert(
    conn: AsyncConnection,
    buyer_id: int,
    name: str,
    id_cipher: str,
    id_masked: str,
    id_hash: str,
    now: datetime,
    phone: str | None,
) -> sa.Row[Any]:
    return (
        await conn.execute(
            identities.insert()
            .values(
                buyer_id=buyer_id,
                name=name,
                id_cipher=id_cipher,
                id_masked=id_masked,
                id_hash=id_hash,
                created_at=now,
                phone=phone,
            )
            .returning(*identities.c)
        )
    ).one()


async def list_for_buyer(conn: AsyncConnection, buyer_id: int) -> list[StoredIdentity]:
    rows = await conn.execute(
        sa.select(identities).where(identities.c.buyer_id == buyer_id).order_by(identities.c.id)
    )
    return [_identity(row._mapping) for row in rows]


async def find_for_buyer(conn: AsyncConnection, buyer_id: int, identity_id: int) -> StoredIdentity | None:
    """The identity, if it is this buyer's."""
    row = (
        await conn.execute(
            sa.select(identities).where(identities.c.id == identity_id, identities.c.buyer_id == buyer_id)
        )
    ).first()
    return None if row is None else _identity(row._mapping)


async def delete_for_buyer(conn: AsyncConnection, buyer_id: int, identity_id: int) -> bool:
    """Whether an identity of this buyer was deleted."""
    gone = await conn.execute(
        identities.delete().where(identities.c.id == identity_id, identities.c.buyer_id == buyer_id)
    )
    return gone.rowcount == 1
