"""The storefront in Chinese first and English second: the language chosen by the switch (remembered
in a cookie) or the browser's Accept-Language, money and China time per language, Chinese product and
brand names for Chinese readers, refusals said in the reader's language by their code, and saved
delivery addresses chosen from the province, city and district lists."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI

from flashport.adapters.db.schema import brands, products, sale_items, skus
from flashport.app import create_app
from flashport.domain.accounts import Role
from flashport.services.accounts import addresses, identities
from flashport.services.context import Context
from flashport.services.orders import checkout
from flashport.services.sales import buying
from flashport.web import i18n
from flashport.web import session as web_session
from tests.factories import make_user
from tests.sale_builder import make_sale

CSRF = "test-csrf-token"
JSON = {"accept": "application/json", "x-csrf-token": CSRF}
LI_NA = ("李娜", "110105199003070025")


@pytest.fixture
def web_app(ctx: Context) -> FastAPI:
    return create_app(ctx=ctx)


@pytest.fixture
async def web(web_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A browser that says nothing about its languages."""
    transport = httpx.ASGITransport(app=web_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://shop.test") as http:
        yield http


async def buyer_client(client: httpx.AsyncClient, ctx: Context) -> int:
    user_id, _ = await make_user(ctx, Role.BUYER)
    data = {"uid": user_id, "role": "buyer", "name": "Test Buyer", "csrf": CSRF}
    client.cookies.set(
        web_session.COOKIE, web_session.encode(data, ctx.settings.keys.secret, 3600), "shop.test"
    )
    return user_id


async def name_in_chinese(ctx: Context, item_id: int, title: str, brand: str) -> None:
    async with ctx.transaction() as tx:
        product_id = (
            sa.select(skus.c.product_id)
            .join(sale_items, sale_items.c.sku_id == skus.c.id)
            .where(sale_items.c.id == item_id)
            .scalar_subquery()
        )
        brand_id = sa.select(products.c.brand_id).where(products.c.id == product_id).scalar_subquery()
        await tx.conn.execute(
            products.update()
            .where(products.c.id == product_id)
            .values(title_zh=title, description_zh="新西兰原装进口 适合 1 岁以上幼儿")
        )
        await tx.conn.execute(brands.update().where(brands.c.id == brand_id).values(name_zh=brand))


def lang(html: str) -> str:
    found = re.search(r'<html lang="([^"]+)">', html)
    assert found is not None
    return found.group(1)


# --- choosing the language ---------------------------------------------------------------------------


async def test_chinese_is_the_default_and_english_follows_accept_language(
    ctx: Context, web: httpx.AsyncClient
) -> None:
    await make_sale(ctx)
    page = await web.get("/")
    assert lang(page.text) == "zh-CN" and page.headers["content-language"] == "zh-CN"
    assert "正在抢购" in page.text and "Live now" not in page.text
    assert "Accept-Language" in page.headers["vary"]
    english = await web.get("/", headers={"accept-language": "en-US,en;q=0.9"})
    assert lang(english.text) == "en" and "Live now" in english.text and "正在抢购" not in english.text
    chinese = await web.get("/", headers={"accept-language": "zh-TW,zh;q=0.9,en;q=0.5"})
    assert lang(chinese.text) == "zh-CN"
    other = await web.get("/", headers={"accept-language": "fr-FR,de;q=0.8"})
    assert lang(other.text) == "zh-CN"  # neither of ours: Chinese first


async def test_the_switch_is_remembered_over_accept_language(web: httpx.AsyncClient) -> None:
    page = await web.get("/", headers={"accept-language": "zh-CN"})
    assert 'href="/language/en?next=/"' in page.text and ">English</a>" in page.text
    switched = await web.get("/language/en", params={"next": "/login?next=/orders"})
    assert switched.status_code == 303 and switched.headers["location"] == "/login?next=/orders"
    cookie = switched.headers["set-cookie"]
    assert (
        cookie.startswith(f"{i18n.COOKIE}=en;")
        and "httponly" in cookie.lower()
        and "Max-Age=31536000" in cookie
    )
    login = await web.get("/login", headers={"accept-language": "zh-CN"})
    assert lang(login.text) == "en" and "Log in" in login.text and ">简体中文</a>" in login.text
    back = await web.get("/language/zh-CN", params={"next": "//elsewhere.example"})
    assert back.headers["location"] == "/"  # only a path of this site
    assert lang((await web.get("/login", headers={"accept-language": "en"})).text) == "zh-CN"


# --- money, times, names -----------------------------------------------------------------------------


async def test_money_china_time_and_chinese_names_per_language(ctx: Context, web: httpx.AsyncClient) -> None:
    sale = await make_sale(ctx, price_fen=123450, original_fen=246900, starts_in=timedelta(days=2))
    await name_in_chinese(ctx, sale.item_id, "a2 至初 婴幼儿配方奶粉 3段 900克", "a2 至初")
    zh = (await web.get(f"/items/{sale.item_id}")).text
    assert "¥1,234.50" in zh and "¥2,469.00" in zh
    assert "a2 至初 婴幼儿配方奶粉 3段 900克" in zh and "新西兰原装进口" in zh and "新西兰" in zh
    assert "Test a2" not in zh.split("<main", 1)[1].split("</main>", 1)[0].split('class="facts"')[0]
    when = re.search(r'<time datetime="(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):\d\dZ">([^<]+)</time>', zh)
    assert when is not None
    # China time: eight hours ahead of the UTC instant in the datetime attribute.
    assert re.fullmatch(r"\d{4}年\d{1,2}月\d{1,2}日 \d\d:\d\d", when.group(6))
    assert int(when.group(6)[-5:-3]) == (int(when.group(4)) + 8) % 24
    assert "时间均为北京时间" in zh
    en = (await web.get(f"/items/{sale.item_id}", headers={"accept-language": "en"})).text
    assert "¥1,234.50" in en and "a2 至初" not in en and "New Zealand" in en
    assert re.search(r'<time datetime="[^"]+">\d{1,2} [A-Z][a-z]{2} \d{4}, \d\d:\d\d</time>', en)
    assert "Times are China time (UTC+8)" in en


# --- refusals ------------------------------------------------------------------------------------------


async def test_refusals_are_said_in_the_readers_language_by_code(
    ctx: Context, web: httpx.AsyncClient
) -> None:
    sale = await make_sale(ctx, quantity=1, limit=1)
    buyer = await buyer_client(web, ctx)
    other, _ = await make_user(ctx, Role.BUYER)
    await buying.buy(ctx, other, sale.item_id, 1, "first")
    form = {"csrf_token": CSRF, "quantity": "1", "idempotency_key": "k-zh"}
    refused = await web.post(f"/items/{sale.item_id}/buy", data=form, headers=JSON)
    assert refused.status_code == 409 and refused.json()["code"] == "sold_out"
    assert "抢光" in refused.json()["message"]
    form["idempotency_key"] = "k-en"
    english = await web.post(
        f"/items/{sale.item_id}/buy", data=form, headers={**JSON, "accept-language": "en"}
    )
    assert english.json()["message"].startswith("Every unit is reserved now")
    missing = await web.get("/orders/NO-SUCH-ORDER")
    assert missing.status_code == 404 and "订单不存在" in missing.text and "页面不存在" in missing.text
    assert buyer


async def test_checkout_field_errors_in_chinese(ctx: Context, web: httpx.AsyncClient) -> None:
    sale = await make_sale(ctx)
    buyer = await buyer_client(web, ctx)
    order = (await buying.buy(ctx, buyer, sale.item_id, 1, "zh-checkout")).order
    form = {
        "csrf_token": CSRF,
        "identity_id": "new",
        "identity_name": LI_NA[0],
        "identity_number": "110105199003070026",  # a wrong check digit
        "address_id": "new",
        "consignee_name": "李娜",
        "consignee_phone": "12345",
        "consignee_province": "33",
        "consignee_city": "3301",
        "consignee_district": "",
        "consignee_address": "文三路 90 号",
    }
    page = await web.post(f"/orders/{order['order_no']}/checkout", data=form)
    assert page.status_code == 422
    html = page.text
    assert re.search(r'id="identity_number-error">.*校验码不符', html)
    assert re.search(r'id="consignee_phone-error">.*中国大陆手机号', html)
    assert re.search(r'id="consignee_district-error">.*依次选择省、市、区县', html)
    assert "请修改以下内容" in html
    # The lists keep what was chosen: Zhejiang's cities, Hangzhou's districts.
    assert '<option value="33" selected>浙江省</option>' in html
    assert (
        '<option value="3301" selected>杭州市</option>' in html
        and '<option value="330106">西湖区</option>' in html
    )
    assert await identities.list_identities(ctx, buyer) == []


# --- addresses -----------------------------------------------------------------------------------------


async def test_divisions_are_listed_level_by_level(web: httpx.AsyncClient) -> None:
    cities = (await web.get("/divisions/33")).json()
    assert {"code": "3301", "name": "杭州市"} in cities["children"]
    districts = (await web.get("/divisions/3301")).json()["children"]
    assert {"code": "330106", "name": "西湖区"} in districts and all(len(d["code"]) == 6 for d in districts)
    assert (await web.get("/divisions/330106")).json()["children"] == []
    assert (await web.get("/divisions/99")).json()["children"] == []


async def test_a_buyer_saves_an_address_from_the_lists_and_checks_out_with_it(
    ctx: Context, web: httpx.AsyncClient
) -> None:
    buyer = await buyer_client(web, ctx)
    page = (await web.get("/account/addresses")).text
    assert '<select id="consignee_province" name="consignee_province"' in page and "浙江省" in page
    assert "国家统计局 2023 年版" in page
    form = {
        "csrf_token": CSRF,
        "consignee_name": "李娜",
        "consignee_phone": "13800138000",
        "consignee_province": "33",
        "consignee_city": "3301",
        "consignee_district": "3301",  # a city is not a district
        "consignee_address": "文三路 90 号",
    }
    refused = await web.post("/account/addresses", data=form)
    assert refused.status_code == 422 and await addresses.list_addresses(ctx, buyer) == []
    saved = await web.post("/account/addresses", data={**form, "consignee_district": "330106"})
    assert saved.status_code == 303
    [address] = await addresses.list_addresses(ctx, buyer)
    assert address.district_code == "330106" and address.written == "浙江省杭州市西湖区 文三路 90 号"
    assert "浙江省杭州市西湖区 文三路 90 号" in (await web.get("/account/addresses")).text
    # Checkout offers it, chosen; choosing it sends its place and code to customs.
    person = await identities.add_identity(ctx, buyer, *LI_NA)
    sale = await make_sale(ctx)
    order = (await buying.buy(ctx, buyer, sale.item_id, 1, "with-address")).order
    order_page = (await web.get(f"/orders/{order['order_no']}")).text
    assert f'name="address_id" value="{address.id}" checked' in order_page
    done = await web.post(
        f"/orders/{order['order_no']}/checkout",
        data={"csrf_token": CSRF, "identity_id": str(person.id), "address_id": str(address.id)},
    )
    assert done.status_code == 303
    consignee = (await checkout.get_checkout(ctx, buyer, order["order_no"])).consignee
    assert consignee.address == "浙江省杭州市西湖区 文三路 90 号" and consignee.district == "330106"
    assert consignee.name == "李娜" and consignee.phone == "13800138000"
    # Another buyer cannot use it.
    intruder = await make_user(ctx, Role.BUYER)
    with pytest.raises(Exception, match="not found"):
        await addresses.get_address(ctx, intruder[0], address.id)


async def test_a_new_address_at_checkout_is_saved_when_asked(ctx: Context, web: httpx.AsyncClient) -> None:
    buyer = await buyer_client(web, ctx)
    # The parcel goes to someone else: customs is told the buyer's own phone, so the identity has one.
    person = await identities.add_identity(ctx, buyer, *LI_NA, "13700137000")
    sale = await make_sale(ctx)
    order = (await buying.buy(ctx, buyer, sale.item_id, 1, "new-address")).order
    form = {
        "csrf_token": CSRF,
        "identity_id": str(person.id),
        "address_id": "new",
        "consignee_name": "王芳",
        "consignee_phone": "13912345678",
        "consignee_province": "11",
        "consignee_city": "1101",
        "consignee_district": "110105",
        "consignee_address": "建国路 88 号 SOHO 现代城 2 号楼 1201",
        "save_address": "1",
    }
    assert (await web.post(f"/orders/{order['order_no']}/checkout", data=form)).status_code == 303
    [saved] = await addresses.list_addresses(ctx, buyer)
    assert saved.written == "北京市朝阳区 建国路 88 号 SOHO 现代城 2 号楼 1201"
    consignee = (await checkout.get_checkout(ctx, buyer, order["order_no"])).consignee
    assert consignee.address == saved.written and consignee.district == "110105"


# --- the catalog's Chinese display names --------------------------------------------------------------


async def test_brands_keep_a_chinese_name_written_in_chinese(ctx: Context) -> None:
    from flashport.domain.errors import InvalidInput
    from flashport.services.catalog import reference as catalog

    brand = await catalog.create_brand(
        ctx, name=f"Aptamil {id(ctx)}", country="DE", name_zh=" 爱他美 ", description_zh="德国婴幼儿营养品牌"
    )
    assert (brand.name_zh, brand.description_zh) == ("爱他美", "德国婴幼儿营养品牌")
    assert (await catalog.get_brand(ctx, brand.id)).name_zh == "爱他美"
    with pytest.raises(InvalidInput) as refused:
        await catalog.update_brand(ctx, brand.id, {"name_zh": "Aptamil"})
    assert [d.field for d in refused.value.details] == ["name_zh"]
    changed = await catalog.update_brand(ctx, brand.id, {"name_zh": "爱他美（德国）"})  # noqa: RUF001
    assert (await catalog.get_brand(ctx, brand.id)).name_zh == changed.name_zh == "爱他美（德国）"  # noqa: RUF001


# --- honest states -------------------------------------------------------------------------------------


async def test_a_fully_reserved_sale_says_units_may_come_back_and_when(
    ctx: Context, web: httpx.AsyncClient
) -> None:
    sale = await make_sale(ctx, quantity=1, limit=1)
    other, _ = await make_user(ctx, Role.BUYER)
    order = (await buying.buy(ctx, other, sale.item_id, 1, "the-only-unit")).order
    english = {"accept-language": "en"}
    event = (await web.get(f"/events/{sale.event_id}", headers=english)).text
    assert "data-all-reserved" in event and "This sale has ended" not in event
    assert "come back on sale until the sale ends" in event
    assert 'data-event-status="live"' in event  # the live counts keep polling: units may return
    item = (await web.get(f"/items/{sale.item_id}", headers=english)).text
    assert "All reserved" in item and "Sale ended" not in item
    deadline = re.search(r'data-units-back>.*?data-countdown-to="([^"]+)"', item, re.S)
    assert deadline is not None
    stored = await buying_order_deadline(ctx, order["order_no"])
    assert deadline.group(1) == stored
    chinese = (await web.get(f"/items/{sale.item_id}")).text
    assert "已被抢光" in chinese and "下一笔未付款订单的付款时限于" in chinese


async def buying_order_deadline(ctx: Context, order_no: str) -> str:
    from flashport.adapters.db.schema import orders
    from flashport.web.formatting import iso

    async with ctx.read() as conn:
        found = await conn.scalar(sa.select(orders.c.payment_deadline).where(orders.c.order_no == order_no))
    return iso(found)
