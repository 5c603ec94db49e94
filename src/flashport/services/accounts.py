"""Registration, log-in and tokens. Passwords are hashed with Argon2id (memory-hard)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import jwt
import orjson
import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from jwt import PyJWS
from jwt.algorithms import HMACAlgorithm

from flashport.adapters.db.schema import suppliers, users
from flashport.domain.accounts import (
    Principal,
    Role,
    check_password_strength,
    normalise_email,
)
from flashport.domain.errors import Conflict, InvalidInput, NotFound, Unauthenticated
from flashport.services.context import Context

_hasher = PasswordHasher()  # argon2id, library defaults (64 MiB, 3 passes): OWASP-grade
_DUMMY_HASH = _hasher.hash("timing-equaliser")
TOKEN_ALGORITHM = "HS256"


async def register(
    ctx: Context,
    *,
    email: str,
    password: str,
    name: str,
    role: Role = Role.BUYER,
    supplier_id: int | None = None,
) -> dict[str, Any]:
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
        if supplier_id is not None:
            found = await tx.conn.scalar(sa.select(suppliers.c.id).where(suppliers.c.id == supplier_id))
            if found is None:
                raise NotFound(f"supplier {supplier_id} does not exist", code="supplier_not_found")
        taken = await tx.conn.scalar(sa.select(users.c.id).where(users.c.email == email))
        if taken is not None:
            raise Conflict("an account with this email already exists", code="email_taken")
        user_id = await tx.conn.scalar(
            users.insert()
            .values(
                email=email,
                password_hash=password_hash,
                role=role.value,
                name=name.strip(),
                supplier_id=supplier_id,
                is_active=True,
                created_at=tx.now,
            )
            .returning(users.c.id)
        )
        await tx.emit("user.registered", f"user:{user_id}", {"user_id": user_id, "role": role.value})
    return {
        "id": user_id,
        "email": email,
        "name": name.strip(),
        "role": role.value,
        "supplier_id": supplier_id,
    }


async def log_in(ctx: Context, *, email: str, password: str) -> dict[str, Any]:
    """Return a bearer token. The same error for an unknown email and a wrong password."""
    async with ctx.read() as conn:
        row = (await conn.execute(sa.select(users).where(users.c.email == email.strip().lower()))).first()
    stored = row.password_hash if row is not None else _DUMMY_HASH
    try:
        await asyncio.to_thread(_hasher.verify, stored, password)
    except (VerificationError, InvalidHashError):
        raise Unauthenticated("email or password is wrong", code="bad_credentials") from None
    if row is None or not row.is_active:
        raise Unauthenticated("email or password is wrong", code="bad_credentials")
    principal = Principal(row.id, Role(row.role), row.supplier_id)
    return {
        "access_token": issue_token(ctx, principal),
        "token_type": "bearer",
        "expires_in": ctx.settings.token_ttl_seconds,
        "role": row.role,
        "user_id": row.id,
    }


def issue_token(ctx: Context, principal: Principal) -> str:
    now = ctx.clock()
    claims = {
        "sub": str(principal.user_id),
        "role": principal.role.value,
        "sup": principal.supplier_id,
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(seconds=ctx.settings.token_ttl_seconds)).timestamp()),
    }
    return jwt.encode(claims, ctx.settings.secret_key, algorithm=TOKEN_ALGORITHM)


class _HS256KeyPreparedOnce(HMACAlgorithm):
    """PyJWT's own HS256, with the secret checked and encoded once instead of on every verification:
    PyJWT screens an HMAC key for PEM and SSH patterns each call (about 60 % of a token check on the
    buy path). The signature check itself is PyJWT's, unchanged."""

    def __init__(self) -> None:
        super().__init__(HMACAlgorithm.SHA256)
        self._prepared: tuple[str | bytes, bytes] | None = None

    def prepare_key(self, key: str | bytes) -> bytes:
        if self._prepared is None or self._prepared[0] != key:
            self._prepared = (key, super().prepare_key(key))
        return self._prepared[1]


_TOKENS = PyJWS(algorithms=[])
_TOKENS.register_algorithm(TOKEN_ALGORITHM, _HS256KeyPreparedOnce())


def verify_token(ctx: Context, token: str) -> Principal:
    """Stateless check (no database on the hot path): signature (HS256 only), expiry against the
    context's clock, required claims. Runs on every authenticated request, the buy path included."""
    try:
        signed = _TOKENS.decode_complete(token, ctx.settings.secret_key, algorithms=[TOKEN_ALGORITHM])
        claims = orjson.loads(signed["payload"])
        expires = claims["exp"]
        if not isinstance(expires, int) or isinstance(expires, bool) or expires <= ctx.clock().timestamp():
            raise Unauthenticated("token is expired", code="invalid_token")
        return Principal(int(claims["sub"]), Role(claims["role"]), claims.get("sup"))
    except (jwt.PyJWTError, orjson.JSONDecodeError, ValueError, KeyError, TypeError) as exc:
        raise Unauthenticated("token is invalid or expired", code="invalid_token") from exc


async def list_users(ctx: Context, role: Role | None = None) -> list[dict[str, Any]]:
    query = sa.select(
        users.c.id,
        users.c.email,
        users.c.name,
        users.c.role,
        users.c.supplier_id,
        users.c.is_active,
        users.c.created_at,
    ).order_by(users.c.id)
    if role is not None:
        query = query.where(users.c.role == role.value)
    async with ctx.read() as conn:
        return [dict(r._mapping) for r in await conn.execute(query)]


async def get_user(ctx: Context, user_id: int) -> dict[str, Any]:
    async with ctx.read() as conn:
        row = (
            await conn.execute(
                sa.select(
                    users.c.id,
                    users.c.email,
                    users.c.name,
                    users.c.role,
                    users.c.supplier_id,
                    users.c.created_at,
                ).where(users.c.id == user_id)
            )
        ).first()
    if row is None:
        raise NotFound(f"user {user_id} does not exist", code="user_not_found")
    return dict(row._mapping)
