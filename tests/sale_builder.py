"""Builds a live (or upcoming) sale item directly in the database for buy-path tests."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

from flashport.adapters.db.schema import (
    brands,
    products,
    sale_events,
    sale_items,
    skus,
    stock,
    suppliers,
    users,
    warehouses,
)
from flashport.domain.accounts import Principal, Role
from flashport.services import inventory
from flashport.services.accounts import issue_token
from flashport.services.context import Context


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
) -> Sale:
    """A scheduled event with one item; by default it started a minute ago (live)."""
    tag = uuid.uuid4().hex[:8]
    async with ctx.transaction() as tx:
        c, now = tx.conn, tx.now

        async def insert(table, **values):  # type: ignore[no-untyped-def]
            return await c.scalar(table.insert().values(**values).returning(table.c.id))

        supplier = await insert(suppliers, name=f"S {tag}", country="NZ", created_at=now)
        brand = await insert(brands, name=f"B {tag}", country="NZ", created_at=now)
        house = await insert(
            warehouses,
            code=f"W{tag}",
            name="Ningbo bonded",
            kind="bonded",
            customs_district="3105",
            country="CN",
            created_at=now,
        )
        product = await insert(
            products,
            brand_id=brand,
            supplier_id=supplier,
            title="Infant formula 900g",
            images=["/static/demo/milk.svg"],
            origin_country="NZ",
            hs_code="0402290000",
            legal_unit="035",
            tax_category="general",
            created_at=now,
            updated_at=now,
        )
        sku = await insert(
            skus,
            product_id=product,
            code=f"SKU-{tag}",
            title="900g",
            spec="900g",
            original_price_fen=original_fen,
            weight_grams=1200,
            unit="140",
            created_at=now,
            updated_at=now,
        )
        await c.execute(
            stock.insert().values(
                sku_id=sku, warehouse_id=house, on_hand=quantity, allotted=quantity, updated_at=now
            )
        )
        starts = now + starts_in
        event = await insert(
            sale_events,
            title=f"Sale {tag}",
            channel="global-flash-sale",
            starts_at=starts,
            ends_at=starts + timedelta(days=7),
            state="scheduled",
            created_at=now,
            updated_at=now,
        )
        item = await insert(
            sale_items,
            event_id=event,
            sku_id=sku,
            warehouse_id=house,
            sale_price_fen=price_fen,
            quantity=quantity,
            per_buyer_limit=limit,
            created_at=now,
            updated_at=now,
        )
    await inventory.items_changed(ctx, [item])
    return Sale(event, item, quantity, limit)


async def make_buyers(ctx: Context, count: int) -> list[tuple[int, str]]:
    """``count`` buyers in one INSERT, with real tokens: (user id, token)."""
    tag = uuid.uuid4().hex[:8]
    async with ctx.transaction() as tx:
        rows = [
            {
                "email": f"buyer-{tag}-{n}@example.com",
                "password_hash": "!",
                "role": "buyer",
                "name": f"Buyer {n}",
                "is_active": True,
                "created_at": tx.now,
            }
            for n in range(count)
        ]
        ids = (await tx.conn.scalars(users.insert().returning(users.c.id), rows)).all()
    return [(int(i), issue_token(ctx, Principal(int(i), Role.BUYER))) for i in ids]
