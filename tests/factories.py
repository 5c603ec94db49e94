"""Test data builders. Users are inserted directly (Argon2 is deliberately slow); their tokens are real."""

from __future__ import annotations

import uuid
from typing import Any

from flashport.adapters.db.schema import brands, products, skus, stock, suppliers, users, warehouses
from flashport.domain.accounts import Principal, Role
from flashport.services.accounts.tokens import issue_token
from flashport.services.context import Context


async def make_supplier(ctx: Context, name: str | None = None, country: str = "FR") -> int:
    async with ctx.transaction() as tx:
        supplier_id = await tx.conn.scalar(
            suppliers.insert()
            .values(name=name or f"Supplier {uuid.uuid4().hex[:8]}", country=country, created_at=tx.now)
            .returning(suppliers.c.id)
        )
    return int(supplier_id)


async def make_user(ctx: Context, role: Role, supplier_id: int | None = None) -> tuple[int, str]:
    """Return (user id, bearer token)."""
    async with ctx.transaction() as tx:
        user_id = await tx.conn.scalar(
            users.insert()
            .values(
                email=f"{role.value}-{uuid.uuid4().hex[:10]}@example.com",
                password_hash="x",
                role=role.value,
                name=f"Test {role.value}",
                supplier_id=supplier_id,
                is_active=True,
                created_at=tx.now,
            )
            .returning(users.c.id)
        )
    return int(user_id), issue_token(ctx.settings, Principal(int(user_id), role, supplier_id), ctx.clock())


def auth(token: str) -> dict[str, Any]:
    return {"Authorization": f"Bearer {token}"}


# --- catalog rows, inserted directly (the catalog API is tested on its own) ------------------------


async def make_brand(ctx: Context, name: str | None = None, country: str = "CH") -> int:
    async with ctx.transaction() as tx:
        brand_id = await tx.conn.scalar(
            brands.insert()
            .values(name=name or f"Brand {uuid.uuid4().hex[:8]}", country=country, created_at=tx.now)
            .returning(brands.c.id)
        )
    return int(brand_id)


async def make_warehouse(ctx: Context, kind: str = "bonded") -> int:
    """A bonded warehouse (customs district 5165, Hangzhou) or an overseas one (in Germany)."""
    bonded = kind == "bonded"
    async with ctx.transaction() as tx:
        warehouse_id = await tx.conn.scalar(
            warehouses.insert()
            .values(
                code=f"WH-{uuid.uuid4().hex[:10]}",
                name="Hangzhou bonded zone" if bonded else "Frankfurt hub",
                kind=kind,
                customs_district="5165" if bonded else None,
                country="CN" if bonded else "DE",
                area_code="3301960001" if bonded else None,
                created_at=tx.now,
            )
            .returning(warehouses.c.id)
        )
    return int(warehouse_id)


async def make_product_with_sku(
    ctx: Context,
    *,
    original_price_fen: int = 10_000,
    brand_id: int | None = None,
    supplier_id: int | None = None,
    title: str = "Whole milk powder",
) -> int:
    """A product with one SKU; returns the SKU id."""
    brand_id = brand_id or await make_brand(ctx)
    supplier_id = supplier_id or await make_supplier(ctx)
    async with ctx.transaction() as tx:
        product_id = await tx.conn.scalar(
            products.insert()
            .values(
                brand_id=brand_id,
                supplier_id=supplier_id,
                title=title,
                images=["https://img.example.com/milk-1.jpg"],
                origin_country="CH",
                hs_code="0402210000",
                legal_unit="035",
                declared_name="全脂奶粉",
                tax_category="reduced_vat",
                created_at=tx.now,
                updated_at=tx.now,
            )
            .returning(products.c.id)
        )
        sku_id = await tx.conn.scalar(
            skus.insert()
            .values(
                product_id=product_id,
                code=f"SKU-{uuid.uuid4().hex[:12]}",
                title=f"{title} 800 g",
                original_price_fen=original_price_fen,
                weight_grams=900,
                unit="122",
                gmodel="品牌:测试|规格:800克/罐|成分:全脂乳粉",
                net_content=800,
                net_content_unit="g",
                net_weight_grams=800,
                packaging_weight_grams=90,
                item_record_no="T5165W-0001",
                created_at=tx.now,
                updated_at=tx.now,
            )
            .returning(skus.c.id)
        )
    return int(sku_id)


async def set_stock(ctx: Context, sku_id: int, warehouse_id: int, on_hand: int, allotted: int = 0) -> None:
    """Create or overwrite the stock row of an SKU in a warehouse."""
    async with ctx.transaction() as tx:
        key = (stock.c.sku_id == sku_id) & (stock.c.warehouse_id == warehouse_id)
        await tx.conn.execute(stock.delete().where(key))
        await tx.conn.execute(
            stock.insert().values(
                sku_id=sku_id,
                warehouse_id=warehouse_id,
                on_hand=on_hand,
                allotted=allotted,
                updated_at=tx.now,
            )
        )
