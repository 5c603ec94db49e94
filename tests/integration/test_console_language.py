"""The operator console and the supplier portal in Simplified Chinese and English: Chinese for a Chinese
browser, English through the storefront's language switch (the ``fp_lang`` cookie), ``<html lang>``
following it; each page's headings, column heads, labels and buttons in the page's language (no English
label left on a Chinese page), states shown as labels while the codes stay in URLs and attributes, and
the flash messages and the calendar's live checks in the reader's language too."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from html import unescape

import httpx
import pytest
import sqlalchemy as sa

from flashport.adapters.db.schema import products, sale_items, skus
from flashport.app import create_app
from flashport.domain.accounts import Role
from flashport.domain.calendar import CHINA
from flashport.services.context import Context
from flashport.services.sales import buying
from flashport.web import session as web_session
from tests.factories import make_user
from tests.integration.test_operator_pages import declared_order
from tests.sale_builder import Sale, make_buyers, make_sale

CSRF = "language-csrf"
CHINESE = {"accept-language": "zh-CN,zh;q=0.9,en;q=0.8"}
# The words people read on a page: headings, column heads, labels, buttons, confirmations, facts.
LABELLED = re.compile(
    r'<(h1|h2|h3|th scope="col"|label|summary|button|dt|caption)(?: [^>]*)?>(.*?)</(?:h1|h2|h3|th|label'
    r"|summary|button|dt|caption)>",
    re.S,
)
# Words that are the same in both languages (machine names, file formats).
SAME_IN_BOTH = {"SKU", "CSV"}
PNG_HEAD = b"\x89PNG\r\n\x1a\n" + bytes(24)  # told a PNG by its first bytes


def _with_han(text: str) -> bool:
    return re.search(r"[\u4e00-\u9fff]", text) is not None


def _labels(html: str) -> list[str]:
    return [unescape(re.sub(r"<[^>]+>", " ", inner)).strip() for _tag, inner in LABELLED.findall(html)]


def _english_left(html: str, data: set[str]) -> list[str]:
    """The labels of a Chinese page with English words in them and no Chinese (data values aside)."""
    left = []
    for label in _labels(html):
        for value in data:
            label = label.replace(value, "")
        if re.search(r"[A-Za-z]{2,}", label) and not _with_han(label) and label not in SAME_IN_BOTH:
            left.append(label)
    return left


def _lang(html: str) -> str:
    found = re.search(r'<html lang="([^"]+)">', html)
    assert found, html[:200]
    return found.group(1)


@pytest.fixture
async def http(ctx: Context) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(ctx=ctx))
    async with httpx.AsyncClient(transport=transport, base_url="http://shop.test", headers=CHINESE) as client:
        yield client


async def _log_in(http: httpx.AsyncClient, ctx: Context, role: Role, supplier_id: int | None = None) -> None:
    user_id, _ = await make_user(ctx, role, supplier_id)
    data = {"uid": user_id, "role": role.value, "name": role.value, "csrf": CSRF}
    http.cookies.clear()
    http.cookies.set(
        web_session.COOKIE, web_session.encode(data, ctx.settings.keys.secret, 3600), domain="shop.test"
    )


async def _supplier_of(ctx: Context, sale: Sale) -> int:
    async with ctx.read() as conn:
        supplier_id = await conn.scalar(
            sa.select(products.c.supplier_id)
            .select_from(sale_items.join(skus, skus.c.id == sale_items.c.sku_id))
            .join(products, products.c.id == skus.c.product_id)
            .where(sale_items.c.id == sale.item_id)
        )
    return int(supplier_id)


def _pages(sale: Sale) -> dict[str, tuple[list[str], list[str]]]:
    """Each console page with a few of its labels in Chinese and in English."""
    return {
        "/operator": (
            ["运营后台", "商品管理", "活动日历", "实时看板"],
            ["Console", "Catalog", "Sale calendar"],
        ),
        "/operator/catalog": (
            ["商品管理", "品牌", "供应商", "仓库", "新建商品", "原产国", "HS 编码"],
            ["Catalog", "Brands", "Suppliers", "Warehouses", "New product", "Country of origin"],
        ),
        "/operator/calendar": (
            ["活动日历", "新建活动", "频道", "日期"],
            ["Sale calendar", "New event", "Channel"],
        ),
        f"/operator/events/{sale.event_id}": (
            ["商品", "件数", "限购", "取消活动", "进行中", "活动日历"],
            ["Items", "Units", "Limit", "Cancel event", "Live", "Calendar"],
        ),
        "/operator/events/new": (
            ["新建活动", "创建草稿"],
            ["New event", "Create the draft"],
        ),
        "/operator/board": (
            ["实时看板", "已售", "剩余", "支付转化率", "补货", "暂停活动", "提前结束活动", "进行中"],
            ["Live sale board", "Sold", "Left", "Conversion", "Top up", "Pause event", "End event now"],
        ),
        "/operator/orders": (
            ["订单", "订单号、买家或手机号", "查询"],
            ["Orders", "Order, buyer or phone", "Find"],
        ),
        "/operator/payments": (
            ["支付记录", "全部", "成功", "未付款关闭"],
            ["Payments", "Succeeded", "Closed unpaid"],
        ),
        "/operator/refunds": (["退款", "处理中"], ["Refunds", "Pending"]),
        "/operator/declarations": (
            ["海关申报单", "需要处理", "已放行", "暂无申报单。"],
            ["Customs declarations", "Needs attention", "Released", "No declarations."],
        ),
        "/operator/audit": (
            ["审计日志", "操作", "对象", "筛选"],
            ["Audit log", "Action", "Subject", "Filter"],
        ),
    }


async def test_the_console_is_in_chinese_for_a_chinese_browser_and_in_english_after_the_switch(
    ctx: Context, http: httpx.AsyncClient
) -> None:
    sale = await make_sale(ctx, quantity=5)
    await _log_in(http, ctx, Role.OPERATOR)
    pages = _pages(sale)
    for path, (chinese, _english) in pages.items():
        page = await http.get(path)
        assert page.status_code == 200, (path, page.status_code)
        html = page.text
        assert _lang(html) == "zh-CN" and page.headers["content-language"] == "zh-CN", path
        missing = [label for label in chinese if label not in html]
        assert not missing, (path, missing)
        titles = {f"Test sale {tag}" for tag in re.findall(r"Test sale (\w+)", html)}
        assert not _english_left(html, titles | {"global-flash-sale"}), (path, _english_left(html, titles))
        assert "UTC" not in html.split("<footer", 1)[0], path  # console times are China time
        # The switch to English is in the console's header, and comes back to this page.
        assert f'href="/language/en?next={path}"' in html, path
    board = (await http.get("/operator/board")).text
    assert 'class="decl-badge board-status-live">进行中</span>' in board  # the code stays in the class

    switched = await http.get("/language/en", params={"next": "/operator/catalog"})
    assert (switched.status_code, switched.headers["location"]) == (303, "/operator/catalog")
    assert http.cookies.get("fp_lang") == "en"
    for path, (chinese, english) in pages.items():
        html = (await http.get(path)).text  # still a Chinese browser: the cookie decides
        assert _lang(html) == "en", path
        missing = [label for label in english if label not in html]
        assert not missing, (path, missing)
        assert not [label for label in chinese if label in html], path
        assert 'href="/language/zh-CN?next=' in html, path

    back = await http.get("/language/zh-CN", params={"next": "/operator/board"})
    assert back.status_code == 303 and _lang((await http.get("/operator/board")).text) == "zh-CN"


async def test_flash_messages_and_the_live_checks_are_in_the_readers_language(
    ctx: Context, http: httpx.AsyncClient
) -> None:
    sale = await make_sale(ctx, quantity=5)
    await _log_in(http, ctx, Role.MERCHANDISER)
    paused = await http.post(f"/operator/board/items/{sale.item_id}/pause", data={"csrf_token": CSRF})
    assert paused.status_code == 303
    board = (await http.get("/operator/board")).text
    assert f"商品 {sale.item_id} 已暂停。" in board and "已暂停" in board and "确认恢复" in board

    start = ctx.clock() + timedelta(days=1)
    times = {
        "channel": "global-flash-sale",
        "starts_at": start.astimezone(CHINA).strftime("%Y-%m-%dT%H:%M"),
        "ends_at": (start + timedelta(days=1)).astimezone(CHINA).strftime("%Y-%m-%dT%H:%M"),
    }
    said = (await http.get("/operator/events/check.json", params=times)).json()
    assert re.fullmatch(r"活动时长为 \d+ 至 \d+ 天。", said["problems"]["ends_at"]), said
    assert any(
        f"活动 {sale.event_id}" in warning and "global-flash-sale" in warning for warning in said["warnings"]
    )
    # calendar.js builds its sentences from the page's own (the facts go into the {slots}).
    page = (await http.get("/operator/events/new")).text
    texts = re.search(r'<script type="application/json" id="fp-text">(.*?)</script>', page, re.S)
    said_by_scripts = json.loads(texts.group(1)) if texts else {}
    assert said_by_scripts["event_length"] == "活动时长为 {min_days} 至 {max_days} 天。"
    assert (said_by_scripts["unit_seconds"], said_by_scripts["unit_minutes"]) == ("秒", "分钟")  # board.js

    english = (
        await http.get("/operator/events/check.json", params=times, headers={"accept-language": "en"})
    ).json()
    assert "days" in english["problems"]["ends_at"] and "at the same time" in english["warnings"][0]


async def test_the_supplier_portal_is_in_chinese_and_in_english(
    ctx: Context, http: httpx.AsyncClient
) -> None:
    sale = await make_sale(ctx, quantity=5)
    await _log_in(http, ctx, Role.SUPPLIER, await _supplier_of(ctx, sale))
    html = (await http.get("/supplier")).text
    assert _lang(html) == "zh-CN"
    assert all(label in html for label in ("各活动销售", "商品与库存", "在库", "已分配给活动", "可用")), html
    assert not _english_left(html, set(re.findall(r"Test dairy \w+", html)))  # the supplier's name
    english = (await http.get("/supplier", headers={"accept-language": "en"})).text
    assert _lang(english) == "en"
    assert all(label in english for label in ("Sales per event", "Products and stock", "Allotted to sales"))


# An English sentence: three or more Latin words in a row (a code, a title or "SKU" alone is not one).
ENGLISH_SENTENCE = re.compile(r"[A-Za-z]{2,}(?:[ ,;:'\u2019-]+[A-Za-z]{2,}){2,}")
# Where a page says a refusal: flashes and problem banners (role="alert"), messages beside fields, the
# error page's message.
REFUSAL = re.compile(
    r'<(p|div)[^>]*(?:role="alert"|class="field-error"|data-problem-for="[a-z_]+")[^>]*>(.*?)</\1>'
    r'|<section class="empty-state error-state">(.*?)</section>',
    re.S,
)


def _refusals(html: str) -> list[str]:
    found = [inner or section for _tag, inner, section in REFUSAL.findall(html)]
    texts = [unescape(re.sub(r"<[^>]+>", " ", text)).split() for text in found]
    return [" ".join(words) for words in texts if words]


def _said_in_chinese(html: str, *expected: str) -> list[str]:
    """The page's refusals, each checked to be Chinese with no English sentence, holding ``expected``."""
    said = _refusals(html)
    assert said, html[-3000:]
    for text in said:
        assert _with_han(text) and not ENGLISH_SENTENCE.search(text), said
    joined = " ".join(said)
    assert all(part in joined for part in expected), (expected, said)
    return said


async def test_refusals_on_chinese_console_pages_are_in_chinese_with_their_details(
    ctx: Context, http: httpx.AsyncClient
) -> None:
    sale = await make_sale(ctx, quantity=5)
    csrf = {"csrf_token": CSRF}
    # The 403 page names the roles that may open the page, and the reader's own, as labels.
    await _log_in(http, ctx, Role.MERCHANDISER)
    refused = await http.get("/operator/orders")
    assert refused.status_code == 403
    _said_in_chinese(refused.text, "运营、客服", "商品运营")

    # The calendar: a new event with its pre-heat after its start (beside the field and above the form).
    start = (ctx.clock() + timedelta(days=1)).astimezone(CHINA)
    event = {
        "title": "Baby week",
        "channel": "global-flash-sale",
        "description": "",
        "starts_at": start.strftime("%Y-%m-%dT%H:%M"),
        "ends_at": (start + timedelta(days=6)).strftime("%Y-%m-%dT%H:%M"),
        "preheat_at": (start + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M"),
    }
    late = await http.post("/operator/events", data={**csrf, **event})
    assert late.status_code == 422
    _said_in_chinese(late.text, "预热时间必须早于开始时间")
    # A form missing fields: each named by its label.
    empty = await http.post("/operator/events", data={**csrf, **event, "title": "", "channel": ""})
    _said_in_chinese(empty.text, "“标题”", "“频道”")
    # An item beyond the warehouse's free stock: the flash says how many units are free.
    draft = await http.post("/operator/events", data={**csrf, **event, "preheat_at": ""})
    event_path = draft.headers["location"]
    async with ctx.read() as conn:
        sku_id, warehouse_id = (
            await conn.execute(
                sa.select(sale_items.c.sku_id, sale_items.c.warehouse_id).where(
                    sale_items.c.id == sale.item_id
                )
            )
        ).one()
    item = {"sku_id": sku_id, "warehouse_id": warehouse_id, "sale_price": "1.00", "quantity": "1"}
    await http.post(f"{event_path}/items", data={**csrf, **item, "per_buyer_limit": "1"})
    _said_in_chinese((await http.get(event_path)).text, "¥")  # the price band's bounds, in yuan
    await http.post(f"{event_path}/schedule", data=csrf)
    _said_in_chinese((await http.get(event_path)).text, "至少要有一个商品")

    # The live board: a top-up beyond the free stock says how many units are free.
    await http.post(f"/operator/board/items/{sale.item_id}/top-up", data={**csrf, "units": "999999"})
    _said_in_chinese((await http.get("/operator/board")).text, "件")

    # The catalog: a name taken, and a product with several bad fields, each named by its label.
    brand = {"name": f"Brand {uuid.uuid4().hex[:6]}", "country": "DE"}
    await http.post("/operator/catalog/brands", data={**csrf, **brand})
    taken = await http.post("/operator/catalog/brands", data={**csrf, **brand})
    _said_in_chinese(taken.text, f"“{brand['name']}”")
    product = {"brand_id": "1", "supplier_id": "1", "title": "x", "hs_code": "12", "legal_unit": "k"}
    bad = await http.post(
        "/operator/catalog/products", data=csrf | product, files={"image": ("a.png", PNG_HEAD)}
    )
    _said_in_chinese(bad.text, "HS 编码")

    # Refunds: a reason too short (with the lengths allowed), an order not paid.
    await _log_in(http, ctx, Role.OPERATOR)
    [(buyer, _)] = await make_buyers(ctx, 1)
    order_no = (await buying.buy(ctx, buyer, sale.item_id, 1, f"k-{uuid.uuid4().hex}")).order["order_no"]
    refund = f"/operator/orders/{order_no}/refund"
    short = await http.post(refund, data={**csrf, "reason": "x", "confirmed": "yes"})
    assert short.status_code == 422
    _said_in_chinese(short.text, "个字符")
    unpaid = await http.post(refund, data={**csrf, "reason": "The buyer asked", "confirmed": "yes"})
    assert unpaid.status_code == 409
    _said_in_chinese(unpaid.text, "没有可退款的支付")


async def test_re_declare_field_errors_and_refusals_are_in_chinese(
    ctx: Context, http: httpx.AsyncClient
) -> None:
    declared = await declared_order(ctx)
    await _log_in(http, ctx, Role.OPERATOR)
    path = f"/operator/declarations/{declared.order_no}/redeclare"
    wrong = {"consignee_name": "李娜", "consignee_phone": "12", "consignee_address": "杭州市西湖区"}
    fields = await http.post(path, data={"csrf_token": CSRF, **wrong})
    assert fields.status_code == 422
    _said_in_chinese(fields.text, "手机号")
    pending = await declared_order(ctx, state="pending")
    again = await http.post(f"/operator/declarations/{pending.order_no}/redeclare", data={"csrf_token": CSRF})
    assert again.status_code == 409
    _said_in_chinese(again.text, pending.order_no)


async def test_console_times_are_china_time_with_the_zone_said(ctx: Context, http: httpx.AsyncClient) -> None:
    sale = await make_sale(ctx, quantity=5)
    await _log_in(http, ctx, Role.OPERATOR)
    await http.post(f"/operator/board/items/{sale.item_id}/pause", data={"csrf_token": CSRF})
    for headers, written in (
        (CHINESE, "{d.year}年{d.month}月{d.day}日 {d:%H:%M:%S}（北京时间）"),  # noqa: RUF001
        ({"accept-language": "en"}, "{d.day} {d:%b} {d.year}, {d:%H:%M:%S} (China time)"),
    ):
        board = (await http.get("/operator/board", headers=headers)).text
        stamp = re.search(r'data-board-stamp>.*?<time datetime="([^"]+)">([^<]+)</time>', board, re.S)
        assert stamp, board
        china = datetime.fromisoformat(stamp.group(1)).astimezone(CHINA)
        assert stamp.group(2) == written.format(d=china)
        audit = (await http.get("/operator/audit", headers=headers)).text
        entry = re.search(r'<time datetime="([^"]+)">([^<]+)</time>', audit)
        assert entry, audit
        china = datetime.fromisoformat(entry.group(1)).astimezone(CHINA)
        assert entry.group(2) == written.format(d=china).replace(f":{china:%S}", "", 1)
