"""The seam between the catalog/event services and the stock engine.

Event and item services call these two functions and never talk to a stock engine directly, so the
public listing shows the engine's live counts and the engine learns about every item change.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from flashport.services.context import Context


async def remaining(ctx: Context, items: Iterable[Mapping[str, Any]]) -> dict[int, int]:
    """Units still for sale per sale item id. ``items`` are sale_items rows (id, quantity, reserved, sold)."""
    rows = list(items)
    if ctx.stock is not None:
        return await ctx.stock.remaining([r["id"] for r in rows])
    return {r["id"]: max(0, r["quantity"] - r["reserved"] - r["sold"]) for r in rows}


async def items_changed(ctx: Context, item_ids: Iterable[int]) -> None:
    """Call after the commit that created, changed, scheduled or cancelled these sale items."""
    ids = list(item_ids)
    if ctx.stock is not None:
        await ctx.stock.sync_items(ctx, ids)
    if ctx.buy_path is not None:
        ctx.buy_path.forget_terms(ids)
