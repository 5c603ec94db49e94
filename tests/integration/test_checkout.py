"""Identities and checkout over HTTP, and the annual-limit ledger under racing payments, on SQLite and
PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from flashport.adapters.db.schema import (
    identities,
    identity_year_totals,
    order_lines,
    orders,
    payments,
    products,
    sale_items,
    skus,
)
from flashport.api.routes import compliance
from flashport.app import create_app
from flashport.domain.accounts import Role
from flashport.domain.limits import customs_year
from flashport.services.accounts.identities import identity_hash, is_same_person
from flashport.services.context import Context
from flashport.services.orders import quota
from flashport.services.sales import buying
from tests.factories import auth, make_user
from tests.sale_builder import make_buyers, make_sale

LI_NA = ("李娜", "11010519491231002X")
WANG_WEI = ("王伟", "110105199003070025")
ANNUAL = 2_600_000


@pytest.fixture
async def api(ctx: Context) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(ctx=ctx)
    app.include_router(compliance.router)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


async def _order(
    ctx: Context, buyer: int, *, price_fen: int = 9_900, quantity: int = 1, category: str = "general"
) -> dict[str, Any]:
    sale = await make_sale(
        ctx, quantity=10, limit=max(quantity, 2), price_fen=price_fen, original_fen=price_fen * 3
    )
    if category != "general":
        async with ctx.transaction() as tx:
            product_id = (
                sa.select(skus.c.product_id)
                .join(sale_items, sale_items.c.sku_id == skus.c.id)
                .where(sale_items.c.id == sale.item_id)
                .scalar_subquery()
            )
            await tx.conn.execute(
                products.update().where(products.c.id == product_id).values(tax_category=category)
            )
            if category == "consumption_tax":  # a 30 ml cosmetic: above ¥10 a ml, the tax is due
                sku_id = (
                    sa.select(sale_items.c.sku_id).where(sale_items.c.id == sale.item_id).scalar_subquery()
                )
                await tx.conn.execute(
                    skus.update().where(skus.c.id == sku_id).values(net_content=30, net_content_unit="ml")
                )
    return (await buying.buy(ctx, buyer, sale.item_id, quantity, f"k-{sale.item_id}-{buyer}")).order


async def _identity(api: httpx.AsyncClient, token: str, person: tuple[str, str] = LI_NA) -> int:
    answer = await api.post(
        "/api/v1/identities", json={"name": person[0], "id_number": person[1]}, headers=auth(token)
    )
    assert answer.status_code == 201, answer.text
    return int(answer.json()["id"])


def _form(identity_id: int, **changes: Any) -> dict[str, Any]:
    form = {
        "consignee_name": "李娜",
        "consignee_phone": "138 0013 8000",
        "consignee_address": "浙江省杭州市西湖区文三路 90 号",
        "consignee_district": "330106",
        "identity_id": identity_id,
    }
    return {**form, **changes}


async def _check_out(
    api: httpx.AsyncClient, token: str, order_no: str, form: dict[str, Any]
) -> httpx.Response:
    return await api.post(f"/api/v1/orders/{order_no}/checkout", json=form, headers=auth(token))


async def test_an_identity_is_stored_encrypted_and_shown_masked(ctx: Context, api: httpx.AsyncClient) -> None:
    [(buyer, token), (_, other)] = await make_buyers(ctx, 2)
    added = await api.post(
        "/api/v1/identities", json={"name": " 李娜 ", "id_number": "11010519491231002x"}, headers=auth(token)
    )
    assert added.status_code == 201, added.text
    assert added.json()["name"] == "李娜" and added.json()["id_number"] == "1101**********002X"
    async with ctx.read() as conn:
        row = (await conn.execute(sa.select(identities))).one()
    assert LI_NA[1] not in str(tuple(row)) and LI_NA[1].lower() not in str(tuple(row))
    assert ctx.vault is not None and ctx.vault.open(row.id_cipher) == LI_NA[1]
    assert row.id_hash == identity_hash(ctx.settings, LI_NA[1]) and row.buyer_id == buyer
    listed = await api.get("/api/v1/identities", headers=auth(token))
    assert [(i["name"], i["id_number"]) for i in listed.json()] == [("李娜", "1101**********002X")]
    assert (await api.get("/api/v1/identities", headers=auth(other))).json() == []


async def test_the_same_number_is_added_once_per_buyer_and_bad_numbers_are_refused(
    ctx: Context, api: httpx.AsyncClient
) -> None:
    [(_, token), (_, other)] = await make_buyers(ctx, 2)
    await _identity(api, token)
    again = await api.post(
        "/api/v1/identities", json={"name": "李娜", "id_number": "11010519491231002x"}, headers=auth(token)
    )
    assert again.status_code == 409 and again.json()["code"] == "identity_already_added"
    await _identity(api, other)  # another account may name the same person
    for number, code in [
        ("110105194912310020", "id_check_digit_mismatch"),
        ("1101051949123100", "invalid_id_number"),
        ("110105199002300028", "id_birth_date_invalid"),
        ("000000199003070022", "id_region_unknown"),  # check digit right, region none
        ("999999199003070020", "id_region_unknown"),
    ]:
        refused = await api.post(
            "/api/v1/identities", json={"name": "李娜", "id_number": number}, headers=auth(token)
        )
        assert refused.status_code == 422 and refused.json()["code"] == code, refused.text
        assert number not in refused.text
    bad_name = await api.post(
        "/api/v1/identities", json={"name": "L1", "id_number": WANG_WEI[1]}, headers=auth(token)
    )
    assert bad_name.status_code == 422 and bad_name.json()["code"] == "invalid_name"


async def test_a_buyer_removes_only_their_own_identities(ctx: Context, api: httpx.AsyncClient) -> None:
    [(_, token), (_, other)] = await make_buyers(ctx, 2)
    identity_id = await _identity(api, token)
    stranger = await api.delete(f"/api/v1/identities/{identity_id}", headers=auth(other))
    assert stranger.status_code == 404 and stranger.json()["code"] == "identity_not_found"
    assert (await api.delete(f"/api/v1/identities/{identity_id}", headers=auth(token))).status_code == 204
    assert (await api.get("/api/v1/identities", headers=auth(token))).json() == []
    assert (await api.delete(f"/api/v1/identities/{identity_id}", headers=auth(token))).status_code == 404


async def test_checkout_prices_the_order_and_stores_consignee_identity_and_taxes(
    ctx: Context, api: httpx.AsyncClient
) -> None:
    [(buyer, token)] = await make_buyers(ctx, 1)
    order = await _order(ctx, buyer, price_fen=9_900, quantity=2)
    identity_id = await _identity(api, token)
    answer = await _check_out(api, token, order["order_no"], _form(identity_id))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    # 198.00 of general goods: VAT 198 * 13% * 70% = 18.018 -> 18.02
    assert (body["goods_value"], body["freight"], body["discount"], body["tax"], body["total"]) == (
        "198.00",
        "0.00",
        "0.00",
        "18.02",
        "216.02",
    )
    [line] = body["lines"]
    assert (line["tax_category"], line["tax_base"], line["vat"], line["consumption_tax"], line["tax"]) == (
        "general",
        "198.00",
        "18.02",
        "0.00",
        "18.02",
    )
    assert body["tax_regime"] == "cross_border"
    assert body["consignee"] == {
        "name": "李娜",
        "phone": "13800138000",
        "address": "浙江省杭州市西湖区文三路 90 号",
        "district": "330106",
    }
    assert body["buyer"] == {"name": "李娜", "id_number": "1101**********002X"}
    fetched = await api.get(f"/api/v1/orders/{order['order_no']}/checkout", headers=auth(token))
    assert fetched.status_code == 200 and fetched.json() == body
    async with ctx.read() as conn:
        row = (await conn.execute(sa.select(orders).where(orders.c.order_no == order["order_no"]))).one()
        stored = (await conn.execute(sa.select(order_lines).where(order_lines.c.order_id == row.id))).one()
    assert (row.goods_value_fen, row.freight_fen, row.tax_fen, row.total_fen) == (19_800, 0, 1_802, 21_602)
    assert ctx.vault is not None and ctx.vault.open(row.buyer_id_cipher) == LI_NA[1]
    assert LI_NA[1] not in str(tuple(row))
    assert row.buyer_id_hash == identity_hash(ctx.settings, LI_NA[1]) and row.checked_out_at is not None
    assert (stored.vat_fen, stored.consumption_tax_fen, stored.tariff_fen, stored.tax_base_fen) == (
        1_802,
        0,
        0,
        19_800,
    )
    assert is_same_person(ctx.settings, row.buyer_name, row.buyer_id_hash, "李娜", "11010519491231002x")
    assert not is_same_person(ctx.settings, row.buyer_name, row.buyer_id_hash, "李娜", WANG_WEI[1])
    # the order as the rest of the API shows it now charges the new total
    shown = await api.get(f"/api/v1/orders/{order['order_no']}", headers=auth(token))
    assert (shown.json()["tax"], shown.json()["total"]) == ("18.02", "216.02")


@pytest.mark.parametrize(
    ("category", "price_fen", "excise", "vat", "total"),
    [
        ("consumption_tax", 42_500, "52.50", "45.50", "523.00"),  # the worked cosmetics case
        ("reduced_vat", 9_900, "0.00", "6.24", "105.24"),
        ("general", 9_900, "0.00", "9.01", "108.01"),
    ],
)
async def test_checkout_taxes_each_line_by_its_products_tax_category(
    ctx: Context, api: httpx.AsyncClient, category: str, price_fen: int, excise: str, vat: str, total: str
) -> None:
    [(buyer, token)] = await make_buyers(ctx, 1)
    order = await _order(ctx, buyer, price_fen=price_fen, category=category)
    answer = await _check_out(api, token, order["order_no"], _form(await _identity(api, token)))
    assert answer.status_code == 200, answer.text
    [line] = answer.json()["lines"]
    assert (line["tax_category"], line["consumption_tax"], line["vat"]) == (category, excise, vat)
    assert answer.json()["total"] == total


async def test_freight_is_a_setting_and_part_of_the_tax_base(ctx: Context, api: httpx.AsyncClient) -> None:
    ctx.settings = ctx.settings.model_copy(update={"freight_fen": 1_000})
    [(buyer, token)] = await make_buyers(ctx, 1)
    order = await _order(ctx, buyer, price_fen=9_900)
    body = (await _check_out(api, token, order["order_no"], _form(await _identity(api, token)))).json()
    # base 99.00 + 10.00 = 109.00; VAT 109 * 9.1% = 9.919 -> 9.92; total 99 + 10 + 9.92
    assert (body["freight"], body["lines"][0]["tax_base"], body["tax"], body["total"]) == (
        "10.00",
        "109.00",
        "9.92",
        "118.92",
    )


async def test_exactly_5000_yuan_checks_out_and_5000_yuan_and_one_fen_is_refused(
    ctx: Context, api: httpx.AsyncClient
) -> None:
    """Freight included: bought when freight was free, checked out after it became 10.00 (or 10.01)."""
    [(buyer, token)] = await make_buyers(ctx, 1)
    identity_id = await _identity(api, token)
    at_limit = await _order(ctx, buyer, price_fen=249_500, quantity=2)
    above = await _order(ctx, buyer, price_fen=249_500, quantity=2)
    ctx.settings = ctx.settings.model_copy(update={"freight_fen": 1_000})
    allowed = await _check_out(api, token, at_limit["order_no"], _form(identity_id))
    assert allowed.status_code == 200, allowed.text
    assert (allowed.json()["tax"], allowed.json()["tax_regime"]) == ("455.00", "cross_border")
    ctx.settings = ctx.settings.model_copy(update={"freight_fen": 1_001})  # 4,990.00 + 10.01
    refused = await _check_out(api, token, above["order_no"], _form(identity_id))
    assert refused.status_code == 409 and refused.json()["code"] == "single_transaction_limit"
    async with ctx.read() as conn:
        untouched = (
            await conn.execute(sa.select(orders).where(orders.c.order_no == above["order_no"]))
        ).one()
    assert untouched.checked_out_at is None and untouched.total_fen == 499_000


async def test_a_single_item_above_the_limit_is_taxed_in_full_as_general_trade(
    ctx: Context, api: httpx.AsyncClient
) -> None:
    """At the goods' own rates: the test milk's HS code 0402 with a 10 % tariff (an example rate)."""
    [(buyer, token)] = await make_buyers(ctx, 1)
    order = await _order(ctx, buyer, price_fen=600_000)
    identity_id = await _identity(api, token)
    unknown = await _check_out(api, token, order["order_no"], _form(identity_id))
    assert unknown.status_code == 409 and unknown.json()["code"] == "tariff_rate_unknown"
    rule = {"label": "Milk and cream, concentrated", "vat_rate": "0.13", "tariff_rate": "0.10"}
    _, operator = await make_user(ctx, Role.OPERATOR)
    assert (await api.put("/api/v1/tax-rules/hs/0402", json=rule, headers=auth(operator))).status_code == 201
    answer = await _check_out(api, token, order["order_no"], _form(identity_id))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    # tariff 600.00; VAT (6,000 + 600) * 13 % = 858.00; all in full
    assert (body["tax_regime"], body["tax"], body["total"]) == ("general_trade", "1458.00", "7458.00")
    [line] = body["lines"]
    assert (line["tax_category"], line["tariff"], line["vat"]) == ("hs:0402", "600.00", "858.00")


async def _paid(ctx: Context, person: tuple[str, str], paid_fen: int, *, year: int | None = None) -> None:
    async with ctx.transaction() as tx:
        await tx.conn.execute(
            identity_year_totals.insert().values(
                id_hash=identity_hash(ctx.settings, person[1]),
                year=year or customs_year(tx.now),
                paid_fen=paid_fen,
                updated_at=tx.now,
            )
        )


async def test_the_26000th_yuan_checks_out_and_one_fen_more_is_refused(
    ctx: Context, api: httpx.AsyncClient
) -> None:
    [(buyer, token)] = await make_buyers(ctx, 1)
    identity_id = await _identity(api, token)
    wang_id = await _identity(api, token, WANG_WEI)
    await _paid(ctx, LI_NA, ANNUAL - 9_900)
    await _paid(ctx, WANG_WEI, ANNUAL - 9_899)
    await _paid(ctx, WANG_WEI, ANNUAL, year=customs_year(ctx.clock()) - 1)  # last year does not count
    order = await _order(ctx, buyer, price_fen=9_900)
    refused = await _check_out(api, token, order["order_no"], _form(wang_id))
    assert refused.status_code == 409 and refused.json()["code"] == "annual_limit_exceeded"
    allowed = await _check_out(api, token, order["order_no"], _form(identity_id))
    assert allowed.status_code == 200, allowed.text


async def test_checkout_of_another_buyers_order_or_with_their_identity_is_not_found(
    ctx: Context, api: httpx.AsyncClient
) -> None:
    [(buyer, token), (_, other)] = await make_buyers(ctx, 2)
    order = await _order(ctx, buyer)
    mine, theirs = await _identity(api, token), await _identity(api, other, WANG_WEI)
    stranger = await _check_out(api, other, order["order_no"], _form(theirs))
    assert stranger.status_code == 404 and stranger.json()["code"] == "order_not_found"
    borrowed = await _check_out(api, token, order["order_no"], _form(theirs))
    assert borrowed.status_code == 404 and borrowed.json()["code"] == "identity_not_found"
    peek = await api.get(f"/api/v1/orders/{order['order_no']}/checkout", headers=auth(other))
    assert peek.status_code == 404
    not_yet = await api.get(f"/api/v1/orders/{order['order_no']}/checkout", headers=auth(token))
    assert not_yet.status_code == 404 and not_yet.json()["code"] == "checkout_not_found"
    assert (await _check_out(api, token, order["order_no"], _form(mine))).status_code == 200


async def test_checkout_is_refused_after_the_deadline_and_once_a_payment_exists(
    ctx: Context, api: httpx.AsyncClient
) -> None:
    [(buyer, token)] = await make_buyers(ctx, 1)
    identity_id = await _identity(api, token)
    late, paying = await _order(ctx, buyer), await _order(ctx, buyer)
    async with ctx.transaction() as tx:
        await tx.conn.execute(
            orders.update()
            .where(orders.c.order_no == late["order_no"])
            .values(payment_deadline=tx.now - timedelta(seconds=1))
        )
        await tx.conn.execute(
            payments.insert().values(
                order_id=paying["id"],
                order_no=paying["order_no"],
                attempt=1,
                provider="alipay",
                out_trade_no=paying["order_no"],
                amount_fen=9_900,
                status="pending",
                created_at=tx.now,
                updated_at=tx.now,
            )
        )
    closed = await _check_out(api, token, late["order_no"], _form(identity_id))
    assert closed.status_code == 409 and closed.json()["code"] == "payment_window_closed"
    started = await _check_out(api, token, paying["order_no"], _form(identity_id))
    assert started.status_code == 409 and started.json()["code"] == "checkout_after_payment"


async def test_a_consignee_phone_that_is_not_a_mainland_mobile_is_refused(
    ctx: Context, api: httpx.AsyncClient
) -> None:
    [(buyer, token)] = await make_buyers(ctx, 1)
    order = await _order(ctx, buyer)
    answer = await _check_out(
        api, token, order["order_no"], _form(await _identity(api, token), consignee_phone="021-8888-8888")
    )
    assert answer.status_code == 422 and answer.json()["code"] == "invalid_phone"
    assert answer.json()["details"][0]["field"] == "consignee_phone"


# --- the ledger of the annual limit, under racing payments -----------------------------------------------


async def _reserve(ctx: Context, digest: str, year: int, amount_fen: int) -> bool:
    async with ctx.transaction() as tx:
        won = await quota.reserve_annual_quota_within(tx, digest, year, amount_fen, ANNUAL)
        await asyncio.sleep(0.05)  # hold the transaction open, so the racers overlap
    return won


async def _total(ctx: Context, digest: str, year: int) -> int:
    async with ctx.read() as conn:
        return await quota.paid_this_year(conn, digest, year)


async def test_two_payments_racing_for_the_last_of_an_identitys_year_reserve_it_once(ctx: Context) -> None:
    digest = identity_hash(ctx.settings, LI_NA[1])
    await _paid(ctx, LI_NA, ANNUAL - 15_000, year=2026)
    results = await asyncio.gather(*[_reserve(ctx, digest, 2026, 10_000) for _ in range(2)])
    assert sorted(results) == [False, True]
    assert await _total(ctx, digest, 2026) == ANNUAL - 5_000


async def test_the_first_payments_of_a_year_racing_to_create_its_total_reserve_once(ctx: Context) -> None:
    digest = identity_hash(ctx.settings, WANG_WEI[1])
    results = await asyncio.gather(*[_reserve(ctx, digest, 2027, 1_500_000) for _ in range(2)])
    assert sorted(results) == [False, True]
    assert await _total(ctx, digest, 2027) == 1_500_000


async def test_many_racing_payments_fill_the_year_exactly_to_the_limit(ctx: Context) -> None:
    digest = identity_hash(ctx.settings, LI_NA[1])
    await _paid(ctx, LI_NA, ANNUAL - 10_000, year=2026)
    results = await asyncio.gather(*[_reserve(ctx, digest, 2026, 2_500) for _ in range(8)])
    assert results.count(True) == 4
    assert await _total(ctx, digest, 2026) == ANNUAL
    other_year = await _reserve(ctx, digest, 2027, 2_500)
    assert other_year and await _total(ctx, digest, 2027) == 2_500


async def test_a_checked_out_order_reserves_its_transaction_value_in_the_year_it_is_paid(
    ctx: Context, api: httpx.AsyncClient
) -> None:
    [(buyer, token)] = await make_buyers(ctx, 1)
    order = await _order(ctx, buyer, price_fen=9_900, quantity=2)
    assert (
        await _check_out(api, token, order["order_no"], _form(await _identity(api, token)))
    ).status_code == 200
    async with ctx.transaction() as tx:
        row = (await tx.conn.execute(sa.select(orders).where(orders.c.id == order["id"]))).one()
        assert await quota.reserve_order_quota_within(ctx, tx, row, tx.now)
    digest = identity_hash(ctx.settings, LI_NA[1])
    year = customs_year(ctx.clock())
    assert await _total(ctx, digest, year) == 19_800  # the dutiable value: goods + freight, no tax
    async with ctx.transaction() as tx:
        await quota.release_annual_quota_within(tx, digest, year, 19_800)
    assert await _total(ctx, digest, year) == 0


async def test_the_buyers_own_phone_is_kept_and_the_payer_is_compared_exactly(
    ctx: Context, api: httpx.AsyncClient
) -> None:
    [(buyer, token)] = await make_buyers(ctx, 1)
    order = await _order(ctx, buyer, price_fen=9_900, quantity=1)
    identity_id = await _identity(api, token)  # no phone of her own on file
    to_her_mother = _form(identity_id, consignee_name="王芳", consignee_phone="13900139000")
    refused = await _check_out(api, token, order["order_no"], to_her_mother)
    assert refused.status_code == 422 and refused.json()["code"] == "buyer_phone_required", refused.text
    assert refused.json()["details"][0]["field"] == "identity_phone"

    bad_phone = await api.post(
        "/api/v1/identities",
        json={"name": WANG_WEI[0], "id_number": WANG_WEI[1], "phone": "12345"},
        headers=auth(token),
    )
    assert bad_phone.status_code == 422 and bad_phone.json()["code"] == "invalid_phone"
    with_phone = await api.post(
        "/api/v1/identities",
        json={"name": WANG_WEI[0], "id_number": WANG_WEI[1], "phone": "137 0013 7000"},
        headers=auth(token),
    )
    assert with_phone.status_code == 201, with_phone.text
    form = _form(int(with_phone.json()["id"]), consignee_name="王芳", consignee_phone="13900139000")
    assert (await _check_out(api, token, order["order_no"], form)).status_code == 200
    async with ctx.read() as conn:
        row = (await conn.execute(sa.select(orders).where(orders.c.order_no == order["order_no"]))).one()
    assert (row.buyer_phone, row.consignee_phone) == ("13700137000", "13900139000")

    # Customs compares the payer's name exactly: a different case or spacing is another name.
    settings, digest = ctx.settings, row.buyer_id_hash
    assert is_same_person(settings, row.buyer_name, digest, f" {WANG_WEI[0]} ", WANG_WEI[1])
    assert not is_same_person(
        settings, row.buyer_name, digest, f"{WANG_WEI[0][0]} {WANG_WEI[0][1:]}", WANG_WEI[1]
    )


async def test_a_latin_payer_name_in_other_case_is_not_the_buyer(
    ctx: Context, api: httpx.AsyncClient
) -> None:
    [(buyer, token)] = await make_buyers(ctx, 1)
    order = await _order(ctx, buyer, price_fen=9_900, quantity=1)
    identity_id = await _identity(api, token, ("John Smith", LI_NA[1]))
    form = _form(identity_id, consignee_name="John Smith")
    assert (await _check_out(api, token, order["order_no"], form)).status_code == 200
    async with ctx.read() as conn:
        row = (await conn.execute(sa.select(orders).where(orders.c.order_no == order["order_no"]))).one()
    assert row.buyer_phone == row.consignee_phone == "13800138000"  # shipped to himself: his own phone
    assert is_same_person(ctx.settings, row.buyer_name, row.buyer_id_hash, "John Smith", LI_NA[1])
    assert not is_same_person(ctx.settings, row.buyer_name, row.buyer_id_hash, "JOHN SMITH", LI_NA[1])
