"""The seam between the catalog/event services and the stock engine.

Event and item services call these two functions and never talk to a stock engine directly, so the
public listing shows the engine's live counts and the engine learns about every item change.
"""

from __future__ import annotations

from collections.abc import Iterable

from flashport.adapters.db import sales_repo
from flashport.domain.sale_entities import SaleItem
from flashport.services.context import Context


async def remaining(ctx: Context, items: Iterable[SaleItem]) -> dict[int, int]:
    """Units still for sale per sale item id: the stock engine's count."""
    return await ctx.stock.remaining([item.id for item in items])


async def items_changed(ctx: Context, item_ids: Iterable[int]) -> None:
    """Call after the commit that created, changed, scheduled or cancelled these sale items."""
    ids = list(item_ids)
    await ctx.stock.sync_items(ids)
    ctx.buy_path.forget_terms(ids)


async def reload_if_lost(ctx: Context) -> int:
    """The worker's ``stock_reloaded`` stage: if the stock engine lost everything it held (Redis restarted
    empty, flushed, or failed over to a replica without the data), load every live and coming item
    again from the database, recent idempotency keys included, before anyone needs it; returns how
    many items were. (A purchase of an item Redis does not know rebuilds that item at once anyway;
    this also brings back the items nobody is buying, whose counts the storefront shows.)"""
    if not await ctx.stock.lost():
        return 0
    async with ctx.read() as conn:
        ids = await sales_repo.unended_item_ids(conn, ctx.clock())
    await ctx.stock.reload(ids)
    return len(ids)


async def settle_orphans(ctx: Context) -> int:
    """The worker's ``orphans_settled`` stage: give back the reservations of every live and coming item
    whose process died between reserving and saving the order (``StockEngine.settle_orphans``)."""
    async with ctx.read() as conn:
        ids = await sales_repo.unended_item_ids(conn, ctx.clock())
    return await ctx.stock.settle_orphans(ids)
