"""Trust on every item page (issue 17 point 4): the origin country, the kind of warehouse (a bonded
warehouse in China or shipped directly from abroad), an authenticity statement naming the supplier,
and the returns policy (FLASHPORT_RETURN_POLICY_DAYS, and what the product says cannot be returned),
taken from the catalog, in Chinese (the default) and in English."""

# The Chinese texts are punctuated with full-width colons, as Chinese is written.
# ruff: noqa: RUF001

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest
import sqlalchemy as sa

from flashport.adapters.db.schema import products, sale_items, skus, suppliers
from flashport.app import create_app
from flashport.services.context import Context
from tests.sale_builder import make_sale

CHINESE = {"accept-language": "zh-CN,zh;q=0.9"}
ENGLISH = {"accept-language": "en-GB,en;q=0.9"}


@pytest.fixture
async def web(ctx: Context) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(ctx=ctx))
    async with httpx.AsyncClient(transport=transport, base_url="http://shop.test") as client:
        yield client


async def _exclude_from_returns(ctx: Context, item_id: int, english: str, chinese: str) -> str:
    """Write the product's return exclusions; its supplier's name."""
    async with ctx.transaction() as tx:
        product_id = await tx.conn.scalar(
            sa.select(skus.c.product_id)
            .select_from(sale_items.join(skus, skus.c.id == sale_items.c.sku_id))
            .where(sale_items.c.id == item_id)
        )
        await tx.conn.execute(
            products.update()
            .where(products.c.id == product_id)
            .values(return_exclusions=english, return_exclusions_zh=chinese)
        )
        return str(
            await tx.conn.scalar(
                sa.select(suppliers.c.name)
                .join(products, products.c.supplier_id == suppliers.c.id)
                .where(products.c.id == product_id)
            )
        )


def _trust(html: str) -> dict[str, str]:
    """The trust block's facts as plain text, by name."""
    block = re.search(r"<section class=\"trust\".*?</section>", html, re.S)
    assert block, "the item page has no trust block"
    facts = re.findall(r'data-trust-fact="(\w+)"[^>]*>(.*?)</div>', block.group(0), re.S)
    return {name: " ".join(re.sub(r"<[^>]+>", " ", body).split()) for name, body in facts}


async def test_every_item_page_shows_origin_warehouse_authenticity_and_returns_in_both_languages(
    ctx: Context, web: httpx.AsyncClient
) -> None:
    ctx.settings = ctx.settings.model_copy(update={"return_policy_days": 14})
    bonded = await make_sale(ctx)
    overseas = await make_sale(ctx, overseas=True)
    supplier = await _exclude_from_returns(
        ctx, bonded.item_id, "Opened tins cannot be returned.", "罐装奶粉开封后不可退货。"
    )

    english = _trust((await web.get(f"/items/{bonded.item_id}", headers=ENGLISH)).text)
    assert english["origin"] == "Origin New Zealand"
    assert "From a bonded warehouse in China" in english["warehouse"]
    assert f"Authentic goods supplied by {supplier}" in english["authenticity"]
    assert "Returns accepted within 14 days of delivery" in english["returns"]
    assert "Not returnable: Opened tins cannot be returned." in english["returns"]

    chinese = _trust((await web.get(f"/items/{bonded.item_id}", headers=CHINESE)).text)
    assert chinese["origin"] == "原产地 新西兰"
    assert "保税仓" in chinese["warehouse"]
    assert f"正品保证：由{supplier}供货" in chinese["authenticity"]
    assert "签收后 14 天内可在订单页申请退货" in chinese["returns"]
    assert "不可退货：罐装奶粉开封后不可退货。" in chinese["returns"]

    english = _trust((await web.get(f"/items/{overseas.item_id}", headers=ENGLISH)).text)
    chinese = _trust((await web.get(f"/items/{overseas.item_id}", headers=CHINESE)).text)
    assert "Direct mail from abroad" in english["warehouse"] and "海外直邮" in chinese["warehouse"]
    assert "Not returnable" not in english["returns"] and "不可退货" not in chinese["returns"]
    assert set(english) == set(chinese) == {"origin", "warehouse", "authenticity", "returns"}

    ctx.settings = ctx.settings.model_copy(update={"return_policy_days": 0})  # no returns at all
    english = _trust((await web.get(f"/items/{overseas.item_id}", headers=ENGLISH)).text)
    chinese = _trust((await web.get(f"/items/{overseas.item_id}", headers=CHINESE)).text)
    assert "cannot be returned once delivered" in english["returns"]
    assert "签收后不支持退货" in chinese["returns"]
