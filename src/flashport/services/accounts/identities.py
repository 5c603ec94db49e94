"""A buyer's real-name identities: the people (name + resident ID number) they may buy as.

The number is stored three ways, never in clear: sealed by the identity vault (to declare it to
customs), masked (to show it), and as a keyed hash (to find duplicates and the person's yearly total
without decrypting anything). Nothing here logs a number, masked or not.
"""

from __future__ import annotations

import hashlib
import hmac
import unicodedata
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from flashport.adapters.db import identities_repo
from flashport.adapters.db.identities_repo import AlreadyStored, StoredIdentity
from flashport.adapters.identity_vault import IdentityVault, mask_id_number
from flashport.adapters.reference import division_codes
from flashport.domain.errors import Conflict, NotFound
from flashport.domain.identity import check_mobile, check_real_name, same_declared_name
from flashport.domain.limits import china_date
from flashport.services.context import Context
from flashport.settings import Settings


def identity_hash(settings: Settings, id_number: str) -> str:
    """HMAC-SHA256 of a normalised ID number, under ``FLASHPORT_IDENTITY_HASH_KEY``. That key is not
    rotated with the others: the hashes are stored (duplicates, yearly totals) and would all change."""
    key = hashlib.sha256(f"identity-lookup:{settings.keys.identity_hash_key}".encode()).digest()
    return hmac.new(key, id_number.encode(), hashlib.sha256).hexdigest()


def is_same_person(
    settings: Settings, buyer_name: str, buyer_id_hash: str, payer_name: str, payer_id_number: str
) -> bool:
    """Whether the payer a provider reports is the buyer of the order (rule 8): the name exactly as
    it is declared (NFC-normalised and trimmed, never case-folded: customs compares exactly), and an ID
    number with the buyer's hash."""
    number = unicodedata.normalize("NFKC", payer_id_number).strip().upper()
    same_number = hmac.compare_digest(identity_hash(settings, number), buyer_id_hash)
    return same_number and same_declared_name(payer_name, buyer_name)


@dataclass(frozen=True)
class Identity:
    """One of a buyer's identities as the buyer sees it: the number masked."""

    id: int
    name: str
    id_number: str  # masked: region and last four characters only
    created_at: datetime


def identity_view(stored: StoredIdentity) -> Identity:
    return Identity(stored.id, stored.name, stored.id_masked, stored.created_at)


def _vault(ctx: Context) -> IdentityVault:
    return ctx.vault


async def add_identity(
    ctx: Context, buyer_id: int, name: str, id_number: str, phone: str | None = None
) -> Identity:
    """The ID number's region (its first six digits) must be an administrative division code,
    current or abolished (``id_region_unknown``); ``phone`` is the person's own mobile, declared to
    customs as buyerTelephone."""
    vault = _vault(ctx)
    person = check_real_name(name, id_number, china_date(ctx.clock()), regions=division_codes())
    mobile = check_mobile(phone, field="phone") if phone and phone.strip() else None
    digest = identity_hash(ctx.settings, person.id_number)
    try:
        async with ctx.transaction() as tx:
            if await identities_repo.has_number(tx.conn, buyer_id, digest):
                raise _already_added()
            stored = await identities_repo.insert(
                tx.conn,
                buyer_id=buyer_id,
                name=person.name,
                id_cipher=vault.seal(person.id_number),
                id_masked=mask_id_number(person.id_number),
                id_hash=digest,
                now=tx.now,
                phone=mobile,
            )
            await tx.emit(
                "identity.added",
                f"buyer:{buyer_id}",
                {"identity_id": stored.id, "id_number": stored.id_masked},
            )
    except AlreadyStored as exc:  # the same number added twice at the same moment
        raise _already_added() from exc
    return identity_view(stored)


def _already_added() -> Conflict:
    return Conflict("this ID number is already one of your identities", code="identity_already_added")


async def list_identities(ctx: Context, buyer_id: int) -> list[Identity]:
    async with ctx.read() as conn:
        return [identity_view(stored) for stored in await identities_repo.list_for_buyer(conn, buyer_id)]


async def remove_identity(ctx: Context, buyer_id: int, identity_id: int) -> None:
    """Orders already checked out keep their own copy of the identity, so removal never changes them."""
    async with ctx.transaction() as tx:
        if not await identities_repo.delete_for_buyer(tx.conn, buyer_id, identity_id):
            raise identity_not_found(identity_id)
        await tx.emit("identity.removed", f"buyer:{buyer_id}", {"identity_id": identity_id})


def identity_not_found(identity_id: int) -> NotFound:
    # Another buyer's identity looks exactly like a missing one.
    return NotFound(f"identity {identity_id} not found", code="identity_not_found")


async def own_identity(conn: AsyncConnection, buyer_id: int, identity_id: int) -> StoredIdentity:
    """The identity, if it is this buyer's; inside the caller's transaction."""
    stored = await identities_repo.find_for_buyer(conn, buyer_id, identity_id)
    if stored is None:
        raise identity_not_found(identity_id)
    return stored
