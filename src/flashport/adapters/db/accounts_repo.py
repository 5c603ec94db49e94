"""SQL for user accounts. Every function works in the caller's connection (and so its transaction)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from flashport.adapters.db.schema import session_revocations, suppliers, users
from flashport.domain.accounts import Role


class AlreadyStored(Exception):
    """An account with this e-mail address exists (the unique constraint said so)."""


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
    session_version: int = 0


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
    users.c.session_version,
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
        session_version=m["session_version"],
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
    """A new active account; the unique email constraint is the last word on duplicates
    (:class:`AlreadyStored`)."""
    try:
        result = await conn.execute(
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
    except IntegrityError as exc:
        if "email" not in str(exc.orig).lower():
            raise
        raise AlreadyStored("an account with this e-mail address exists") from exc
    return _user(result.one()._mapping)


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


async def password_hash_of(conn: AsyncConnection, user_id: int) -> str | None:
    return await conn.scalar(sa.select(users.c.password_hash).where(users.c.id == user_id))


async def set_password_hash(conn: AsyncConnection, user_id: int, password_hash: str) -> None:
    await conn.execute(users.update().where(users.c.id == user_id).values(password_hash=password_hash))


async def set_active(conn: AsyncConnection, user_id: int, active: bool) -> bool:
    """False when there is no such user."""
    result = await conn.execute(users.update().where(users.c.id == user_id).values(is_active=active))
    return result.rowcount == 1


async def raise_session_version(conn: AsyncConnection, user_id: int, now: datetime) -> int | None:
    """One more than the user's session version, logged for the revocation lists; None for no user."""
    version = await conn.scalar(
        users.update()
        .where(users.c.id == user_id)
        .values(session_version=users.c.session_version + 1)
        .returning(users.c.session_version)
    )
    if version is None:
        return None
    await conn.execute(
        session_revocations.insert().values(user_id=user_id, min_version=version, created_at=now)
    )
    return int(version)


async def revocations_since(conn: AsyncConnection, since: datetime) -> list[tuple[int, int]]:
    """(user id, lowest open version) of every raise logged at or after ``since``."""
    query = sa.select(session_revocations.c.user_id, session_revocations.c.min_version).where(
        session_revocations.c.created_at >= since
    )
    return [(row.user_id, row.min_version) for row in await conn.execute(query)]


async def forget_revocations(conn: AsyncConnection, before: datetime) -> None:
    """Drop raises older than any token still valid."""
    await conn.execute(session_revocations.delete().where(session_revocations.c.created_at < before))


async def user_standings(conn: AsyncConnection, user_ids: list[int]) -> dict[int, tuple[bool, int]]:
    """(active, session version) of each of these users that exists, in one read."""
    query = sa.select(users.c.id, users.c.is_active, users.c.session_version).where(users.c.id.in_(user_ids))
    return {int(r.id): (bool(r.is_active), int(r.session_version)) for r in await conn.execute(query)}
