"""Registration, log-in and the accounts list. Passwords are hashed with Argon2id (memory-hard); the
bearer tokens log-in hands out are :mod:`.tokens`'."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from flashport.adapters.db import accounts_repo
from flashport.adapters.db.accounts_repo import User
from flashport.domain.accounts import (
    Principal,
    Role,
    check_password_strength,
    normalise_email,
)
from flashport.domain.errors import Conflict, InvalidInput, NotFound, Unauthenticated
from flashport.services.accounts.tokens import issue_token
from flashport.services.context import Context

__all__ = ["AccessGrant", "User", "get_user", "list_users", "log_in", "register"]

_hasher = PasswordHasher()  # argon2id, library defaults (64 MiB, 3 passes): OWASP-grade
_DUMMY_HASH = _hasher.hash("timing-equaliser")


@dataclass(frozen=True)
class AccessGrant:
    """What a successful log-in gives: a bearer token and who it names."""

    access_token: str
    token_type: str
    expires_in: int  # seconds
    role: Role
    user_id: int


async def register(
    ctx: Context,
    *,
    email: str,
    password: str,
    name: str,
    role: Role = Role.BUYER,
    supplier_id: int | None = None,
) -> User:
    """Create an account. Buyers register themselves; operators create operator and supplier users."""
    email = normalise_email(email)
    check_password_strength(password)
    if not name.strip():
        raise InvalidInput("name must not be empty", code="invalid_name")
    if (role is Role.SUPPLIER) != (supplier_id is not None):
        raise InvalidInput(
            "supplier users, and only they, belong to a supplier", code="invalid_supplier_link"
        )
    # Argon2 takes tens of milliseconds of CPU: off the event loop, so other requests keep flowing.
    password_hash = await asyncio.to_thread(_hasher.hash, password)
    async with ctx.transaction() as tx:
        if supplier_id is not None and not await accounts_repo.supplier_exists(tx.conn, supplier_id):
            raise NotFound(f"supplier {supplier_id} does not exist", code="supplier_not_found")
        if await accounts_repo.email_taken(tx.conn, email):
            raise Conflict("an account with this email already exists", code="email_taken")
        user = await accounts_repo.insert_user(
            tx.conn,
            email=email,
            password_hash=password_hash,
            role=role,
            name=name.strip(),
            supplier_id=supplier_id,
            now=tx.now,
        )
        await tx.emit("user.registered", f"user:{user.id}", {"user_id": user.id, "role": role.value})
    return user


async def log_in(ctx: Context, *, email: str, password: str) -> AccessGrant:
    """A bearer token. The same error for an unknown email and a wrong password, and the same work:
    an unknown email is checked against a dummy hash, so timing tells nothing either."""
    async with ctx.read() as conn:
        found = await accounts_repo.credentials_by_email(conn, email.strip().lower())
    stored = found.password_hash if found is not None else _DUMMY_HASH
    try:
        await asyncio.to_thread(_hasher.verify, stored, password)
    except (VerificationError, InvalidHashError):
        raise Unauthenticated("email or password is wrong", code="bad_credentials") from None
    if found is None or not found.user.is_active:
        raise Unauthenticated("email or password is wrong", code="bad_credentials")
    user = found.user
    return AccessGrant(
        access_token=issue_token(ctx.settings, Principal(user.id, user.role, user.supplier_id), ctx.clock()),
        token_type="bearer",
        expires_in=ctx.settings.token_ttl_seconds,
        role=user.role,
        user_id=user.id,
    )


async def list_users(ctx: Context, role: Role | None = None) -> list[User]:
    async with ctx.read() as conn:
        return await accounts_repo.list_users(conn, role)


async def get_user(ctx: Context, user_id: int) -> User:
    async with ctx.read() as conn:
        user = await accounts_repo.find_user(conn, user_id)
    if user is None:
        raise NotFound(f"user {user_id} does not exist", code="user_not_found")
    return user
