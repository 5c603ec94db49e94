"""The seam between the catalog/event services and the stock engine.

Event and item services call these two functions and never talk to a stock engine directly, so the
public listing shows the engine's live counts and the engine learns about every item change.
"""

from __future__ import annotations

from collections.abc import Iterable

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
