"""Builds a live (or upcoming) sale item directly in the database for buy-path tests.

The rows are written with SQLAlchemy Core, not through the services: the catalog and event services are
tested on their own, and these tests need a sale that is simply there (live a minute ago, say), whatever
the services' own rules about when a sale may be scheduled. Callers keep the price band themselves.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

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
    """A scheduled event of a week with one item of ``quantity`` units, all allotted to the sale; by
    default it started a minute ago (live). The goods wait in a bonded warehouse in China (1210), or
    abroad with ``overseas`` (direct import, 9610). The stock engine is told about the new item."""
    tag = uuid.uuid4().hex[:8]
    async with ctx.transaction() as tx:
        conn, now = tx.conn, tx.now
        sku_id, warehouse_id = await _milk_in_stock(conn, now, tag, quantity, original_fen, overseas)
        starts_at = now + starts_in
        event_id = await _insert(
            conn,
            sale_events,
            title=f"Test sale {tag}",
            channel="global-flash-sale",
            starts_at=starts_at,
            ends_at=starts_at + timedelta(days=7),
            state="scheduled",
            created_at=now,
            updated_at=now,
        )
        item_id = await _insert(
            conn,
            sale_items,
            event_id=event_id,
            sku_id=sku_id,
            warehouse_id=warehouse_id,
            sale_price_fen=price_fen,
            quantity=quantity,
            per_buyer_limit=limit,
            reserved=0,
            sold=0,
            created_at=now,
            updated_at=now,
        )
    await inventory.items_changed(ctx, [item_id])
    return Sale(event_id, item_id, quantity, limit)


async def make_buyers(ctx: Context, count: int) -> list[tuple[int, str]]:
    """``count`` buyers inserted in one statement, with real tokens: (user id, token). Their password
    hash matches no password (registering through Argon2 would make these tests slow)."""
    if count == 0:
        return []
    tag = uuid.uuid4().hex[:8]
    async with ctx.transaction() as tx:
        rows = [
            {
                "email": f"buyer-{tag}-{n}@example.com",
                "password_hash": "!test",
                "role": Role.BUYER.value,
                "name": f"Test buyer {n}",
                "supplier_id": None,
                "is_active": True,
                "created_at": tx.now,
            }
            for n in range(count)
        ]
        result = await tx.conn.execute(users.insert().returning(users.c.id), rows)
        ids = [int(row.id) for row in result]
    return [(i, issue_token(ctx.settings, Principal(i, Role.BUYER), ctx.clock())) for i in ids]


async def _insert(conn: Any, table: sa.Table, **values: Any) -> int:
    return int(await conn.scalar(table.insert().values(**values).returning(table.c.id)))


async def _milk_in_stock(
    conn: Any, now: datetime, tag: str, units: int, original_fen: int, overseas: bool
) -> tuple[int, int]:
    """A New Zealand infant formula with ``units`` on hand, all allotted: (SKU id, warehouse id)."""
    supplier_id = await _insert(conn, suppliers, name=f"Test dairy {tag}", country="NZ", created_at=now)
    brand_id = await _insert(conn, brands, name=f"Test a2 {tag}", country="NZ", created_at=now)
    where: dict[str, Any] = (
        {"name": "Test export hub", "kind": "overseas", "country": "NZ"}
        if overseas
        else {
            "name": "Test bonded warehouse",
            "kind": "bonded",
            "customs_district": "2244",
            "country": "CN",
            "ems_no": f"T2244W{tag}",
            "area_code": "2244960001",
        }
    )
    warehouse_id = await _insert(conn, warehouses, code=f"TEST-{tag}", created_at=now, **where)
    product_id = await _insert(
        conn,
        products,
        brand_id=brand_id,
        supplier_id=supplier_id,
        title="a2 Platinum infant formula 900g",
        images=["/static/demo/milk.svg"],
        origin_country="NZ",
        hs_code="0402290000",
        legal_unit="035",
        declared_name="婴儿配方奶粉",
        tax_category="general",
        created_at=now,
        updated_at=now,
    )
    sku_id = await _insert(
        conn,
        skus,
        product_id=product_id,
        code=f"TEST-{tag}-MILK900",
        title="a2 Platinum infant formula 900g, stage 1",
        original_price_fen=original_fen,
        weight_grams=1200,
        unit="122",
        gmodel="品牌:a2|规格:900克/罐|成分:乳粉、乳糖、植物油",
        net_content=900,
        net_content_unit="g",
        net_weight_grams=900,
        packaging_weight_grams=250,
        item_record_no=f"T2244W{tag}-1",
        created_at=now,
        updated_at=now,
    )
    await conn.execute(
        stock.insert().values(
            sku_id=sku_id, warehouse_id=warehouse_id, on_hand=units, allotted=units, updated_at=now
        )
    )
    return sku_id, warehouse_id
