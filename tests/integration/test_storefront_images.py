"""Real product pictures on the storefront (issue 17 point 4): an image an operator uploads in the
console is the picture of the item page, the event page's item card and the home page's sale card,
served back from the image store; a product without a picture shows the placeholder, never a broken
image."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest
import sqlalchemy as sa

from flashport.adapters.db.schema import products, sale_items, skus
from flashport.app import create_app
from flashport.domain.accounts import Role
from flashport.services.context import Context
from flashport.web import session as web_session
from tests.factories import make_user
from tests.integration.test_catalog_console import _png
from tests.sale_builder import make_sale

CSRF = "images-csrf"
PLACEHOLDER = "/static/demo/product.svg"


@pytest.fixture
async def http(ctx: Context) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(ctx=ctx))
    async with httpx.AsyncClient(transport=transport, base_url="http://shop.test") as client:
        yield client


async def product_of(ctx: Context, item_id: int) -> int:
    query = (
        sa.select(skus.c.product_id)
        .select_from(sale_items.join(skus, skus.c.id == sale_items.c.sku_id))
        .where(sale_items.c.id == item_id)
    )
    async with ctx.read() as conn:
        return int(await conn.scalar(query))


async def without_pictures(ctx: Context, product_id: int) -> None:
    async with ctx.transaction() as tx:
        await tx.conn.execute(products.update().where(products.c.id == product_id).values(images=[]))


def pictures(html: str) -> list[str]:
    return re.findall(r'<img[^>]* src="([^"]+)"', html)


async def test_an_uploaded_picture_is_shown_on_the_item_event_and_home_pages(
    ctx: Context, http: httpx.AsyncClient
) -> None:
    pictured, bare = await make_sale(ctx), await make_sale(ctx)
    pictured_product = await product_of(ctx, pictured.item_id)
    for sale in (pictured, bare):
        await without_pictures(ctx, await product_of(ctx, sale.item_id))
    merchandiser, _ = await make_user(ctx, Role.MERCHANDISER)
    session = {"uid": merchandiser, "role": Role.MERCHANDISER.value, "name": "m", "csrf": CSRF}
    http.cookies.set(web_session.COOKIE, web_session.encode(session, ctx.settings.keys.secret, 3600))
    uploaded = await http.post(
        f"/operator/catalog/products/{pictured_product}/images",
        data={"csrf_token": CSRF},
        files={"image": ("tin.png", _png(), "image/png")},
    )
    assert uploaded.status_code == 303, uploaded.text
    http.cookies.clear()  # the shop as any visitor sees it

    item = (await http.get(f"/items/{pictured.item_id}")).text
    [image] = [src for src in pictures(item) if src.startswith("/media/images/")]
    served = await http.get(image)
    assert (served.status_code, served.content) == (200, _png())
    assert pictures(item)[0] == image  # the main picture, not a thumbnail
    assert image in pictures((await http.get(f"/events/{pictured.event_id}")).text)
    home = (await http.get("/")).text
    card = home[home.index(f'href="/events/{pictured.event_id}"') :]
    assert pictures(card)[0] == image  # the sale's card shows its goods

    assert pictures((await http.get(f"/items/{bare.item_id}")).text)[0] == PLACEHOLDER
    assert PLACEHOLDER in pictures((await http.get(f"/events/{bare.event_id}")).text)
    assert (await http.get(PLACEHOLDER)).status_code == 200
