"""A buyer's saved delivery addresses: listed at checkout, added there or on the account page.

No outbox event is written for them: an address is personal data that no other part of the platform
needs until an order is checked out with it (the order keeps its own copy, as customs receives it).
"""

from __future__ import annotations

from flashport.adapters.db import addresses_repo
from flashport.domain.addresses import SavedAddress, check_address, check_room
from flashport.domain.errors import NotFound
from flashport.services.context import Context


async def list_addresses(ctx: Context, buyer_id: int) -> list[SavedAddress]:
    async with ctx.read() as conn:
        return await addresses_repo.list_for_buyer(conn, buyer_id)


async def add_address(
    ctx: Context, buyer_id: int, *, name: str, phone: str, district_code: str, street: str
) -> SavedAddress:
    draft = check_address(name, phone, district_code, street)
    async with ctx.transaction() as tx:
        check_room(await addresses_repo.count_for_buyer(tx.conn, buyer_id))
        return await addresses_repo.insert(tx.conn, buyer_id, draft, tx.now)


async def get_address(ctx: Context, buyer_id: int, address_id: int) -> SavedAddress:
    async with ctx.read() as conn:
        found = await addresses_repo.find(conn, buyer_id, address_id)
    if found is None:
        raise address_not_found(address_id)
    return found


async def remove_address(ctx: Context, buyer_id: int, address_id: int) -> None:
    """Orders already checked out keep their own copy of the address."""
    async with ctx.transaction() as tx:
        if not await addresses_repo.delete(tx.conn, buyer_id, address_id):
            raise address_not_found(address_id)


def address_not_found(address_id: int) -> NotFound:
    # Another buyer's address looks exactly like a missing one.
    return NotFound(f"address {address_id} not found", code="address_not_found")
