"""Partner API keys: ``fpk_<key id>_<secret>``, shown once when made and stored only as a keyed hash
(HMAC-SHA256 under a key derived from the server secret), so a copy of the database does not yield a
working key. Rotation makes a new key and lets the old one work on for an overlap; revocation is at once."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from flashport.adapters.db import partners_repo as repo
from flashport.domain.errors import NotFound, Unauthenticated
from flashport.domain.partners import KEY_PREFIX, Partner
from flashport.services.context import Context

MAX_OVERLAP = timedelta(days=30)


@dataclass(frozen=True)
class IssuedKey:
    """A key as made: ``key`` is the only time the secret is seen."""

    id: int
    key_id: str
    key: str
    expires_old_at: datetime | None  # rotation: when the key it replaces stops working


@dataclass(frozen=True)
class KeyInfo:
    id: int
    key_id: str
    label: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None


def _hash(ctx: Context, key: str, secret: str | None = None) -> str:
    """The stored hash of ``key``, under the current server secret unless ``secret`` is given."""
    # A key of its own for this use, so the hash says nothing about the token-signing secret.
    server_secret = secret if secret is not None else ctx.settings.keys.secret
    pepper = hmac.new(server_secret.encode(), b"flashport partner api keys", hashlib.sha256).digest()
    return hmac.new(pepper, key.encode(), hashlib.sha256).hexdigest()


def _matches(ctx: Context, stored_hash: str, key: str) -> bool:
    """Whether ``key`` hashes to ``stored_hash`` under the current secret or a previous one (keys made
    before a rotation keep working while the previous secret is listed)."""
    return any(
        hmac.compare_digest(stored_hash, _hash(ctx, key, secret)) for secret in ctx.settings.keys.secrets
    )


def _split(key: str) -> str | None:
    """The key id of a well-formed key, else None."""
    if not key.startswith(KEY_PREFIX):
        return None
    key_id, _, secret = key[len(KEY_PREFIX) :].partition("_")
    return key_id if len(key_id) == 12 and secret else None


async def issue(ctx: Context, partner_id: int, label: str = "") -> IssuedKey:
    key_id = secrets.token_hex(6)
    key = f"{KEY_PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
    async with ctx.transaction() as tx:
        if await repo.get_partner(tx.conn, partner_id) is None:
            raise NotFound("no such partner", code="partner_not_found")
        pk = await repo.insert_key(
            tx.conn, partner_id=partner_id, key_id=key_id, key_hash=_hash(ctx, key), label=label, now=tx.now
        )
    return IssuedKey(pk, key_id, key, None)


async def rotate(ctx: Context, partner_id: int, key_pk: int, overlap: timedelta) -> IssuedKey:
    """A new key; the old one keeps working for ``overlap`` (at most 30 days), then stops."""
    overlap = min(max(overlap, timedelta(0)), MAX_OVERLAP)
    async with ctx.transaction() as tx:
        old = await repo.key_row(tx.conn, partner_id, key_pk)
        if old is None or old.revoked_at is not None:
            raise NotFound("no such live key", code="key_not_found")
        key_id = secrets.token_hex(6)
        key = f"{KEY_PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
        pk = await repo.insert_key(
            tx.conn,
            partner_id=partner_id,
            key_id=key_id,
            key_hash=_hash(ctx, key),
            label=old.label,
            now=tx.now,
        )
        await repo.expire_key(tx.conn, key_pk, tx.now + overlap)
    return IssuedKey(pk, key_id, key, tx.now + overlap)


async def revoke(ctx: Context, partner_id: int, key_pk: int) -> None:
    async with ctx.transaction() as tx:
        if await repo.key_row(tx.conn, partner_id, key_pk) is None:
            raise NotFound("no such key", code="key_not_found")
        await repo.revoke_key(tx.conn, key_pk, tx.now)


async def list_keys(ctx: Context, partner_id: int) -> list[KeyInfo]:
    async with ctx.read() as conn:
        rows = await repo.keys_of(conn, partner_id)
    return [
        KeyInfo(r.id, r.key_id, r.label, r.created_at, r.expires_at, r.revoked_at, r.last_used_at)
        for r in rows
    ]


async def authenticate(ctx: Context, key: str) -> Partner:
    """The active partner this key belongs to; one answer for every kind of wrong key."""
    refused = Unauthenticated("this API key is not valid", code="invalid_api_key")
    key_id = _split(key)
    if key_id is None:
        raise refused
    now = ctx.clock()
    async with ctx.read() as conn:
        row = await repo.key_by_key_id(conn, key_id)
        if row is None or not _matches(ctx, row.key_hash, key):
            raise refused
        if row.revoked_at is not None or (row.expires_at is not None and row.expires_at <= now):
            raise refused
        partner = await repo.get_partner(conn, row.partner_id)
    if partner is None or not partner.is_active:
        raise refused
    return partner
