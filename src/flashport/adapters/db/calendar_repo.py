"""SQL for the sale calendar's checks: an SKU's original price and brand."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from flashport.adapters.db.schema import brands, products, skus


async def sku_price_and_brand(conn: AsyncConnection, sku_id: int) -> Any:
    """(original_price_fen, brand) of the SKU, or None when there is none."""
    query = (
        sa.select(skus.c.original_price_fen, brands.c.name.label("brand"))
        .join(products, products.c.id == skus.c.product_id)
        .join(brands, brands.c.id == products.c.brand_id)
        .where(skus.c.id == sku_id)
    )
    return (await conn.execute(query)).first()
