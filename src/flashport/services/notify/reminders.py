"""'Remind me' for an upcoming sale: the notifier sends the message when the sale opens."""

from __future__ import annotations

from flashport.adapters.db import notify_repo, sales_repo
from flashport.domain.errors import Conflict, NotFound
from flashport.services.context import Context


async def remind(ctx: Context, buyer_id: int, event_id: int) -> bool:
    """Ask to be told when the sale opens; asking twice is one reminder. 404 no such (announced)
    sale; 409 ``sale_already_open`` when it has opened."""
    async with ctx.transaction() as tx:
        event = await sales_repo.find_event(tx.conn, event_id)
        if event is None or event.state.value != "scheduled":
            raise NotFound(f"sale {event_id} not found", code="sale_not_found")
        if event.starts_at <= tx.now:
            raise Conflict("this sale is already open: no reminder needed", code="sale_already_open")
        await notify_repo.add_reminder(tx.conn, event_id, buyer_id, tx.now)
    return True


async def forget(ctx: Context, buyer_id: int, event_id: int) -> None:
    async with ctx.transaction() as tx:
        await notify_repo.remove_reminder(tx.conn, event_id, buyer_id)


async def is_reminded(ctx: Context, buyer_id: int, event_id: int) -> bool:
    async with ctx.read() as conn:
        return await notify_repo.has_reminder(conn, event_id, buyer_id)
