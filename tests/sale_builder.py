"""Builds a live (or upcoming) sale item directly in the database for buy-path tests."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

from flashport.bench.setup import insert_buyers, insert_sale
from flashport.domain.accounts import Principal, Role
from flashport.services.accounts.tokens import issue_token
from flashport.services.context import Context
from flashport.services.sales import inventory


@dataclass(frozen=True)
class Sale:
    event_id: int
    item_id: int
    quantity: int
    limit: int


async def make_sale(
    ctx: Context,
    *,
    quantity: int = 10,
    limit: int = 2,
    starts_in: timedelta = timedelta(minutes=-1),
    price_fen: int = 9900,
    original_fen: int = 29800,
    overseas: bool = False,
) -> Sale:
    """A scheduled event with one item; by default it started a minute ago (live)."""
    async with ctx.transaction() as tx:
        event, item = await insert_sale(
            tx.conn,
            tx.now,
            uuid.uuid4().hex[:8],
            quantity,
            per_buyer_limit=limit,
            starts_at=tx.now + starts_in,
            sale_price_fen=price_fen,
            original_price_fen=original_fen,
            channel="global-flash-sale",
            overseas=overseas,
        )
    await inventory.items_changed(ctx, [item])
    return Sale(event, item, quantity, limit)


async def make_buyers(ctx: Context, count: int) -> list[tuple[int, str]]:
    """``count`` buyers inserted in bulk, with real tokens: (user id, token)."""
    ids = await insert_buyers(ctx, uuid.uuid4().hex[:8], count)
    return [(i, issue_token(ctx.settings, Principal(i, Role.BUYER), ctx.clock())) for i in ids]
