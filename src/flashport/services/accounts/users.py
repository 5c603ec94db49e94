"""Registration, log-in and the accounts list. Passwords are hashed with Argon2id (memory-hard); the
bearer tokens log-in hands out are :mod:`.tokens`'."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from flashport.adapters.db import accounts_repo, notify_repo
from flashport.adapters.db.accounts_repo import AlreadyStored, User
from flashport.adapters.mail import MailMessage
from flashport.domain.accounts import (
    Principal,
    Role,
    check_account_name,
    check_password_strength,
    normalise_email,
)
from flashport.domain.errors import Conflict, InvalidInput, NotFound, Unauthenticated
from flashport.domain.notifications import LANGUAGES
from flashport.domain.text import forbidden_character
from flashport.services.accounts.sessions import end_sessions
from flashport.services.accounts.tokens import issue_token
from flashport.services.context import Context

__all__ = [
    "AccessGrant",
    "User",
    "change_password",
    "get_user",
    "list_users",
    "log_in",
    "register",
    "sign_up",
]

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
    check_password_strength(password, email)
    name = check_account_name(name)
    if (role is Role.SUPPLIER) != (supplier_id is not None):
        raise InvalidInput(
            "supplier users, and only they, belong to a supplier", code="invalid_supplier_link"
        )
    # Argon2 takes tens of milliseconds of CPU: off the event loop, so other requests keep flowing.
    password_hash = await asyncio.to_thread(_hasher.hash, password)
    try:
        return await _insert_staff(ctx, email, password_hash, name, role, supplier_id)
    except AlreadyStored as exc:
        raise Conflict("an account with this email already exists", code="email_taken") from exc


async def _insert_staff(
    ctx: Context, email: str, password_hash: str, name: str, role: Role, supplier_id: int | None
) -> User:
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


SIGN_UP_ANSWER = (
    "If this address is new, its account is ready: log in. If it already has one, we have e-mailed its owner."
)


async def sign_up(ctx: Context, *, email: str, password: str, name: str, language: str | None = None) -> str:
    """A buyer registers. The answer (returned) is the same whether the address was free or not, and
    so is the work (the password is hashed either way): the owner of an existing account is e-mailed
    instead, so nobody learns from here which addresses have accounts. ``language`` (``zh-CN`` or
    ``en``, the page's) becomes the language of the new buyer's messages; another value is ignored."""
    email = normalise_email(email)
    check_password_strength(password, email)
    name = check_account_name(name)
    password_hash = await asyncio.to_thread(_hasher.hash, password)
    try:
        async with ctx.transaction() as tx:
            if await accounts_repo.email_taken(tx.conn, email):
                attempt = MailMessage(email, "account.registration_attempt", {})
                await ctx.mail.send(tx.emit, f"email:{_masked(email)}", attempt)
                return SIGN_UP_ANSWER
            user = await accounts_repo.insert_user(
                tx.conn,
                email=email,
                password_hash=password_hash,
                role=Role.BUYER,
                name=name.strip(),
                supplier_id=None,
                now=tx.now,
            )
            if language in LANGUAGES:
                await notify_repo.save_language(tx.conn, user.id, language, tx.now)
            await tx.emit("user.registered", f"user:{user.id}", {"user_id": user.id, "role": "buyer"})
            welcome = MailMessage(email, "account.created", {"name": user.name})
            await ctx.mail.send(tx.emit, f"user:{user.id}", welcome)
    except AlreadyStored:  # the same address registered twice at the same moment: the same answer
        return SIGN_UP_ANSWER
    return SIGN_UP_ANSWER


def _masked(email: str) -> str:
    name, _, domain = email.partition("@")
    return f"{name[:1]}***@{domain}"


async def change_password(ctx: Context, user_id: int, *, current: str, new: str) -> None:
    """The current password proves it is the owner; every session of the user then ends."""
    async with ctx.read() as conn:
        stored = await accounts_repo.password_hash_of(conn, user_id)
        user = await accounts_repo.find_user(conn, user_id)
    if stored is None or user is None:
        raise NotFound(f"user {user_id} does not exist", code="user_not_found")
    try:
        await asyncio.to_thread(_hasher.verify, stored, current)
    except (VerificationError, InvalidHashError):
        raise Unauthenticated("the current password is wrong", code="bad_credentials") from None
    check_password_strength(new, user.email)
    new_hash = await asyncio.to_thread(_hasher.hash, new)
    async with ctx.transaction() as tx:
        await accounts_repo.set_password_hash(tx.conn, user_id, new_hash)
        await tx.emit("user.password_changed", f"user:{user_id}", {"user_id": user_id})
    await end_sessions(ctx, user_id)


async def log_in(ctx: Context, *, email: str, password: str) -> AccessGrant:
    """A bearer token. The same error for an unknown email and a wrong password, and the same work:
    an unknown email is checked against a dummy hash, so timing tells nothing either."""
    address = email.strip().lower()
    if forbidden_character(address) is not None or len(address) > 320:
        found = None  # never sent to the database (PostgreSQL refuses a NUL); the same answer as unknown
    else:
        async with ctx.read() as conn:
            found = await accounts_repo.credentials_by_email(conn, address)
    stored = found.password_hash if found is not None else _DUMMY_HASH
    try:
        await asyncio.to_thread(_hasher.verify, stored, password)
    except (VerificationError, InvalidHashError):
        raise Unauthenticated("email or password is wrong", code="bad_credentials") from None
    if found is None or not found.user.is_active:
        raise Unauthenticated("email or password is wrong", code="bad_credentials")
    user = found.user
    return AccessGrant(
        access_token=issue_token(
            ctx.settings,
            Principal(user.id, user.role, user.supplier_id, user.session_version),
            ctx.clock(),
        ),
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
