"""SQL for partners and their API keys."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from flashport.adapters.db.partners_schema import partner_keys, partners
from flashport.domain.partners import Partner, PartnerKind


def _partner(row: Any) -> Partner:
    return Partner(
        row.id,
        row.name,
        PartnerKind(row.kind),
        row.supplier_id,
        row.logistics_code,
        row.pay_code,
        bool(row.is_active),
        row.created_at,
    )


async def insert_partner(
    conn: AsyncConnection,
    *,
    name: str,
    kind: PartnerKind,
    supplier_id: int | None,
    logistics_code: str | None,
    pay_code: str | None,
    now: datetime,
) -> Partner:
    row = (
        await conn.execute(
            partners.insert()
            .values(
                name=name,
                kind=kind.value,
                supplier_id=supplier_id,
                logistics_code=logistics_code,
                pay_code=pay_code,
                is_active=True,
                created_at=now,
            )
            .returning(*partners.c)
        )
    ).one()
    return _partner(row)


async def name_taken(conn: AsyncConnection, name: str) -> bool:
    return await conn.scalar(sa.select(partners.c.id).where(partners.c.name == name)) is not None


async def get_partner(conn: AsyncConnection, partner_id: int) -> Partner | None:
    row = (await conn.execute(sa.select(partners).where(partners.c.id == partner_id))).first()
    return _partner(row) if row else None


async def list_partners(conn: AsyncConnection) -> list[Partner]:
    return [_partner(r) for r in await conn.execute(sa.select(partners).order_by(partners.c.id))]


async def active_partners(conn: AsyncConnection) -> list[Partner]:
    query = sa.select(partners).where(partners.c.is_active.is_(True)).order_by(partners.c.id)
    return [_partner(r) for r in await conn.execute(query)]


async def set_active(conn: AsyncConnection, partner_id: int, active: bool) -> bool:
    result = await conn.execute(partners.update().where(partners.c.id == partner_id).values(is_active=active))
    return bool(result.rowcount)


async def insert_key(
    conn: AsyncConnection, *, partner_id: int, key_id: str, key_hash: str, label: str, now: datetime
) -> int:
    return int(
        await conn.scalar(
            partner_keys.insert()
            .values(partner_id=partner_id, key_id=key_id, key_hash=key_hash, label=label, created_at=now)
            .returning(partner_keys.c.id)
        )
    )


async def key_by_key_id(conn: AsyncConnection, key_id: str) -> Any:
    return (await conn.execute(sa.select(partner_keys).where(partner_keys.c.key_id == key_id))).first()


async def keys_of(conn: AsyncConnection, partner_id: int) -> list[Any]:
    query = sa.select(partner_keys).where(partner_keys.c.partner_id == partner_id).order_by(partner_keys.c.id)
    return list(await conn.execute(query))


async def key_row(conn: AsyncConnection, partner_id: int, key_pk: int) -> Any:
    query = sa.select(partner_keys).where(
        partner_keys.c.id == key_pk, partner_keys.c.partner_id == partner_id
    )
    return (await conn.execute(query)).first()


async def expire_key(conn: AsyncConnection, key_pk: int, at: datetime) -> None:
    """The key stops working at ``at``; an earlier expiry already set is kept."""
    await conn.execute(
        partner_keys.update()
        .where(partner_keys.c.id == key_pk)
        .values(expires_at=sa.case((partner_keys.c.expires_at < at, partner_keys.c.expires_at), else_=at))
    )


async def revoke_key(conn: AsyncConnection, key_pk: int, now: datetime) -> None:
    await conn.execute(
        partner_keys.update()
        .where(partner_keys.c.id == key_pk, partner_keys.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )
