"""The supplier portal (issue 16 point 2): a supplier sees its own products and stock, the sales of its
goods per event (units, revenue at sale price, waiting for customs, shipped) and a settlement statement
per event, as a page and as CSV; never anything of another supplier's, through the API or the pages."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
import sqlalchemy as sa

from flashport.adapters.db.schema import declarations, orders, payments, products, refunds, sale_items, skus
from flashport.app import create_app
from flashport.domain.accounts import Role
from flashport.services.context import Context
from flashport.services.sales import buying
from flashport.web import session as web_session
from tests.factories import auth, make_user
from tests.sale_builder import Sale, make_buyers, make_sale


@dataclass
class Shop:
    sale: Sale
    supplier_id: int
    sku_code: str
    token: str
    user_id: int


async def _supplier_of(ctx: Context, sale: Sale) -> tuple[int, str]:
    async with ctx.read() as conn:
        row = (
            await conn.execute(
                sa.select(products.c.supplier_id, skus.c.code)
                .join(skus, skus.c.product_id == products.c.id)
                .join(sale_items, sale_items.c.sku_id == skus.c.id)
                .where(sale_items.c.id == sale.item_id)
            )
        ).one()
    return int(row.supplier_id), str(row.code)


async def _order(
    ctx: Context, sale: Sale, *, paid: bool, customs: str | None = None, shipped: bool = False
) -> str:
    [(buyer, _)] = await make_buyers(ctx, 1)
    order = (await buying.buy(ctx, buyer, sale.item_id, 1, f"k-{uuid.uuid4().hex}")).order
    async with ctx.transaction() as tx:
        if paid:
            await tx.conn.execute(
                orders.update().where(orders.c.id == order["id"]).values(status="paid", paid_at=tx.now)
            )
        if customs is not None:
            await tx.conn.execute(
                declarations.insert().values(
                    order_id=order["id"],
                    order_no=order["order_no"],
                    trade_mode="1210",
                    state=customs,
                    cop_no=f"COP{uuid.uuid4().hex[:16]}",
                    next_attempt_at=tx.now,
                    shipped_at=tx.now if shipped else None,
                    created_at=tx.now,
                    updated_at=tx.now,
                )
            )
    return str(order["order_no"])


async def _refund(ctx: Context, order_no: str, amount_fen: int) -> None:
    """A succeeded refund of part of the order's payment, as the provider confirmed it."""
    async with ctx.transaction() as tx:
        order = (await tx.conn.execute(sa.select(orders).where(orders.c.order_no == order_no))).one()
        payment_id = await tx.conn.scalar(
            payments.insert()
            .values(
                order_id=order.id,
                order_no=order_no,
                attempt=1,
                provider="alipay",
                out_trade_no=f"{order_no}-1",
                amount_fen=order.total_fen,
                status="succeeded",
                provider_trade_no=f"T{order_no}",
                paid_at=tx.now,
                created_at=tx.now,
                updated_at=tx.now,
            )
            .returning(payments.c.id)
        )
        await tx.conn.execute(
            refunds.insert().values(
                payment_id=payment_id,
                out_request_no=f"RF-{order_no}",
                provider_trade_no=f"T{order_no}",
                amount_fen=amount_fen,
                reason="staff_refund",
                status="succeeded",
                attempts=1,
                next_attempt_at=tx.now,
                refunded_at=tx.now,
                created_at=tx.now,
            )
        )


async def _shop(ctx: Context) -> Shop:
    sale = await make_sale(ctx, quantity=10, limit=1, price_fen=9900)
    supplier_id, code = await _supplier_of(ctx, sale)
    user_id, token = await make_user(ctx, Role.SUPPLIER, supplier_id)
    return Shop(sale, supplier_id, code, token, user_id)


@pytest.fixture
async def http(ctx: Context) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(ctx=ctx))
    # The console is read in English here (its second language; tests/integration/test_console_language.py
    # reads it in Chinese, its default).
    english = {"accept-language": "en"}
    async with httpx.AsyncClient(transport=transport, base_url="http://shop.test", headers=english) as client:
        yield client


async def test_a_supplier_sees_the_sales_of_its_goods_per_event_and_its_statement(
    ctx: Context, http: httpx.AsyncClient
) -> None:
    mine, theirs = await _shop(ctx), await _shop(ctx)
    shipped = await _order(ctx, mine.sale, paid=True, customs="shipped", shipped=True)
    waiting = await _order(ctx, mine.sale, paid=True, customs="declared")
    await _order(ctx, mine.sale, paid=False)  # waiting for payment: not a sale yet
    await _order(ctx, theirs.sale, paid=True)
    await _refund(ctx, waiting, 5000)  # 50.00 of the order's total goes back

    sales = await http.get("/api/v1/supplier/sales", headers=auth(mine.token))
    assert sales.status_code == 200, sales.text
    [event] = sales.json()
    assert (event["event_id"], event["units"], event["revenue"]) == (mine.sale.event_id, 2, "198.00")
    assert (event["waiting_units"], event["shipped_units"]) == (1, 1)

    statement = (
        await http.get(f"/api/v1/supplier/events/{mine.sale.event_id}/statement", headers=auth(mine.token))
    ).json()
    assert sorted(line["order_no"] for line in statement["lines"]) == sorted([shipped, waiting])
    stages = {line["order_no"]: line["stage"] for line in statement["lines"]}
    assert stages == {shipped: "shipped", waiting: "waiting for customs"}
    # The order's total is 99.00 of goods (no tax here): the line bears the whole refund.
    assert statement["totals"] | {"units": 2} == {
        "units": 2,
        "gross_fen": 19800,
        "refunded_fen": 5000,
        "net_fen": 14800,
        "waiting_units": 1,
        "shipped_units": 1,
    }

    download = await http.get(
        f"/api/v1/supplier/events/{mine.sale.event_id}/statement.csv", headers=auth(mine.token)
    )
    assert download.status_code == 200 and download.headers["content-type"].startswith("text/csv")
    assert "attachment" in download.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(download.text.lstrip("\ufeff"))))
    assert rows[1][0] == "order_no" and {r[0] for r in rows[2:4]} == {shipped, waiting}
    assert rows[-2][4:9] == ["2", "", "198.00", "", "50.00"] and rows[-1][6] == "148.00"

    stock = (await http.get("/api/v1/supplier/stock", headers=auth(mine.token))).json()
    assert {row["sku_code"] for row in stock} == {mine.sku_code}


async def test_a_supplier_never_sees_another_suppliers_sales_stock_or_statement(
    ctx: Context, http: httpx.AsyncClient
) -> None:
    mine, theirs = await _shop(ctx), await _shop(ctx)
    await _order(ctx, theirs.sale, paid=True, customs="shipped", shipped=True)
    assert (await http.get("/api/v1/supplier/sales", headers=auth(mine.token))).json() == []
    for path in ("/api/v1/supplier/sales", "/api/v1/supplier/stock"):
        other = await http.get(path, params={"supplier_id": theirs.supplier_id}, headers=auth(mine.token))
        assert (other.status_code, other.json()["code"]) == (403, "not_your_supplier"), path
    for suffix in ("statement", "statement.csv"):
        url = f"/api/v1/supplier/events/{theirs.sale.event_id}/{suffix}"
        refused = await http.get(url, headers=auth(mine.token))
        assert (refused.status_code, refused.json()["code"]) == (404, "no_sales_in_event"), suffix
    _, operator = await make_user(ctx, Role.OPERATOR)
    unnamed = await http.get("/api/v1/supplier/sales", headers=auth(operator))
    assert (unnamed.status_code, unnamed.json()["code"]) == (422, "missing_supplier")
    named = await http.get(
        "/api/v1/supplier/sales", params={"supplier_id": theirs.supplier_id}, headers=auth(operator)
    )
    assert [e["event_id"] for e in named.json()] == [theirs.sale.event_id]
    _, merchandiser = await make_user(ctx, Role.MERCHANDISER)
    assert (await http.get("/api/v1/supplier/sales", headers=auth(merchandiser))).status_code == 403

    # The pages: the same scope.
    data = {"uid": mine.user_id, "role": "supplier", "name": "Dairy", "csrf": "x"}
    http.cookies.set(
        web_session.COOKIE, web_session.encode(data, ctx.settings.keys.secret, 3600), domain="shop.test"
    )
    page = await http.get("/supplier")
    assert page.status_code == 200 and mine.sku_code in page.text and theirs.sku_code not in page.text
    assert f'data-event-id="{theirs.sale.event_id}"' not in page.text
    assert (await http.get("/supplier", params={"supplier": theirs.supplier_id})).status_code == 403
    assert (await http.get(f"/supplier/events/{theirs.sale.event_id}")).status_code == 404
    assert (await http.get(f"/supplier/events/{theirs.sale.event_id}/statement.csv")).status_code == 404


async def test_the_statement_page_and_its_csv_download_for_the_supplier(
    ctx: Context, http: httpx.AsyncClient
) -> None:
    mine = await _shop(ctx)
    order_no = await _order(ctx, mine.sale, paid=True)
    data = {"uid": mine.user_id, "role": "supplier", "name": "Dairy", "csrf": "x"}
    http.cookies.set(
        web_session.COOKIE, web_session.encode(data, ctx.settings.keys.secret, 3600), domain="shop.test"
    )
    overview = await http.get("/supplier", headers={"accept-language": "en"})
    assert f'href="/supplier/events/{mine.sale.event_id}"' in overview.text and "My sales" in overview.text
    chinese = await http.get("/supplier", headers={"accept-language": "zh-CN"})
    assert "我的销售" in chinese.text  # the header's link, translated; the portal's own text stays English
    page = await http.get(f"/supplier/events/{mine.sale.event_id}")
    assert page.status_code == 200 and f'data-line="{order_no}"' in page.text and "¥99.00" in page.text
    download = await http.get(f"/supplier/events/{mine.sale.event_id}/statement.csv")
    assert download.status_code == 200 and order_no in download.text
