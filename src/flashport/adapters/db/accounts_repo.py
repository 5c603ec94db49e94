"""SQL for user accounts. Every function works in the caller's connection (and so its transaction)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from flashport.adapters.db.schema import suppliers, users
from flashport.domain.accounts import Role


@dataclass(frozen=True)
class User:
    """An account as anyone may see it: no password hash."""

    id: int
    email: str
    name: str
    role: Role
    supplier_id: int | None
    is_active: bool
    created_at: datetime


@dataclass(frozen=True)
class Credentials:
    """What log-in checks a password against."""

    user: User
    password_hash: str


_PUBLIC = (
    users.c.id,
    users.c.email,
    users.c.name,
    users.c.role,
    users.c.supplier_id,
    users.c.is_active,
    users.c.created_at,
)


def _user(m: sa.RowMapping) -> User:
    return User(
        id=m["id"],
        email=m["email"],
        name=m["name"],
        role=Role(m["role"]),
        supplier_id=m["supplier_id"],
        is_active=m["is_active"],
        created_at=m["created_at"],
    )


async def supplier_exists(conn: AsyncConnection, supplier_id: int) -> bool:
    found = await conn.scalar(sa.select(suppliers.c.id).where(suppliers.c.id == supplier_id))
    return found is not None


async def email_taken(conn: AsyncConnection, email: str) -> bool:
    return await conn.scalar(sa.select(users.c.id).where(users.c.email == email)) is not None


async def insert_user(
    conn: AsyncConnection,
    *,
    email: str,
    password_hash: str,
    role: Role,
    name: str,
    supplier_id: int | None,
    now: datetime,
) -> User:
    """A new active account; the unique email constraint is the last word on duplicates."""
    row = (
        await conn.execute(
            users.insert()
            .values(
                email=email,
                password_hash=password_hash,
                role=role.value,
                name=name,
                supplier_id=supplier_id,
                is_active=True,
                created_at=now,
            )
            .returning(*_PUBLIC)
        )
    ).one()
    return _user(row._mapping)


async def credentials_by_email(conn: AsyncConnection, email: str) -> Credentials | None:
    row = (
        await conn.execute(sa.select(*_PUBLIC, users.c.password_hash).where(users.c.email == email))
    ).first()
    return None if row is None else Credentials(_user(row._mapping), row.password_hash)


async def find_user(conn: AsyncConnection, user_id: int) -> User | None:
    row = (await conn.execute(sa.select(*_PUBLIC).where(users.c.id == user_id))).first()
    return None if row is None else _user(row._mapping)


async def list_users(conn: AsyncConnection, role: Role | None) -> list[User]:
    """Oldest first; one role only when given."""
    query = sa.select(*_PUBLIC).order_by(users.c.id)
    if role is not None:
        query = query.where(users.c.role == role.value)
    return [_user(row._mapping) for row in await conn.execute(query)]
