"""The console's order desk (issue 16 point 1, orders): find an order by number, buyer or phone; read its
whole story; refund it with a reason through the payment provider, with a confirmation, an outbox
event and an audit entry; the payments and refunds lists. The platform and the sandbox payment company
serve on loopback ports and talk Alipay's protocol, as in test_payments.py."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from flashport.adapters.db.engine import create_engine
from flashport.adapters.db.schema import operator_audit, outbox, refunds
from flashport.app import create_app
from flashport.bootstrap import build_context, close_context
from flashport.domain.accounts import Role
from flashport.sandbox_pay.app import create_sandbox_app
from flashport.sandbox_pay.settings import SandboxSettings
from flashport.services.accounts import identities
from flashport.services.context import Context
from flashport.services.orders import checkout
from flashport.services.payments import settlement as payment_service
from flashport.services.sales import buying
from flashport.settings import Settings
from flashport.web import session as web_session
from tests.conftest import _empty_all_tables
from tests.factories import auth, make_user
from tests.sale_builder import make_buyers, make_sale
from tests.servers import bound_socket, serving
from tests.waiting import HTTP_TIMEOUT, eventually

PAYER = ("李娜", "110105199003070025")
BUYER_PHONE = "13700137000"
CONSIGNEE = ("王伟", "13800138000", "上海市浦东新区世纪大道100号")
CSRF = "desk-csrf"


@dataclass
class Desk:
    ctx: Context
    sandbox: httpx.AsyncClient
    platform: httpx.AsyncClient

    async def order(self, *, pay: bool = True, phone: str = CONSIGNEE[1]) -> dict[str, Any]:
        """A checked-out order of 99.00 (108.01 with tax), paid on the sandbox by its buyer if ``pay``."""
        sale = await make_sale(self.ctx, quantity=5, limit=2, price_fen=9900)
        [(buyer, _)] = await make_buyers(self.ctx, 1)
        order = (await buying.buy(self.ctx, buyer, sale.item_id, 1, f"k-{uuid.uuid4().hex}")).order
        identity = await identities.add_identity(self.ctx, buyer, *PAYER, BUYER_PHONE)
        form = checkout.CheckoutForm(CONSIGNEE[0], phone, CONSIGNEE[2], None, identity.id)
        await checkout.check_out(self.ctx, buyer, order["order_no"], form)
        if pay:
            payment = await payment_service.start_payment(self.ctx, buyer, order["order_no"])
            async with httpx.AsyncClient(timeout=HTTP_TIMEOUT) as browser:
                assert (await browser.get(payment.redirect_url)).status_code == 200
                trade = (await self.sandbox.get(f"/sandbox/trades/{payment.out_trade_no}")).json()
                confirmed = await browser.post(
                    f"{self.sandbox.base_url}/pay/{trade['trade_no']}/confirm",
                    data={"payer_name": PAYER[0], "payer_id_number": PAYER[1]},
                )
            assert confirmed.status_code in (200, 303)

            async def paid() -> bool:
                story = await self.platform.get(
                    f"/api/v1/admin/orders/{order['order_no']}", headers=self.staff
                )
                return bool(story.json()["status"] == "paid")

            await eventually(paid, what="the payment to reach the platform")
        return {**order, "buyer_id": buyer}

    staff: dict[str, Any]


@pytest.fixture
async def desk(database_settings: Settings) -> AsyncIterator[Desk]:
    platform_sock, sandbox_sock = bound_socket(), bound_socket()
    platform_port, sandbox_port = platform_sock.getsockname()[1], sandbox_sock.getsockname()[1]
    settings = database_settings.model_copy(
        update={
            "payment_gateway_url": f"http://127.0.0.1:{sandbox_port}/gateway.do",
            "payment_notify_url": f"http://127.0.0.1:{platform_port}/api/v1/payments/alipay/notify",
            "payment_return_url": f"http://127.0.0.1:{platform_port}/orders",
        }
    )
    engine = create_engine(settings)
    await _empty_all_tables(engine)
    await engine.dispose()
    ctx = await build_context(settings)
    sandbox_app = create_sandbox_app(
        SandboxSettings(data_dir=settings.data_dir, notify_schedule=[0.2, 0.4, 0.8])
    )
    try:
        async with (
            serving(create_app(ctx=ctx), sock=platform_sock) as platform_url,
            serving(sandbox_app, sock=sandbox_sock) as sandbox_url,
            httpx.AsyncClient(timeout=HTTP_TIMEOUT, base_url=sandbox_url) as sandbox,
            httpx.AsyncClient(timeout=HTTP_TIMEOUT, base_url=platform_url) as platform,
        ):
            _, token = await make_user(ctx, Role.CUSTOMER_SERVICE)
            yield Desk(ctx, sandbox, platform, auth(token))
    finally:
        await close_context(ctx)


async def _types(ctx: Context, order_no: str) -> list[str]:
    async with ctx.read() as conn:
        query = sa.select(outbox.c.type).where(outbox.c.subject == f"order:{order_no}").order_by(outbox.c.id)
        return list((await conn.scalars(query)).all())


async def test_an_order_is_found_by_its_number_its_buyer_and_either_phone(desk: Desk) -> None:
    order = await desk.order(pay=False, phone="13911112222")
    await desk.order(pay=False)  # another buyer's, with another consignee phone
    async with desk.ctx.read() as conn:
        email = await conn.scalar(
            sa.text("SELECT email FROM users WHERE id = :id"), {"id": order["buyer_id"]}
        )
    for query in (order["order_no"], email.upper(), str(order["buyer_id"]), "13911112222", BUYER_PHONE):
        found = await desk.platform.get("/api/v1/admin/orders", params={"q": query}, headers=desk.staff)
        assert found.status_code == 200, found.text
        numbers = [o["order_no"] for o in found.json()]
        assert order["order_no"] in numbers, query
        if query != BUYER_PHONE:  # both orders' buyers gave the same phone of their own
            assert numbers == [order["order_no"]], query
    assert (
        await desk.platform.get("/api/v1/admin/orders", params={"q": "nobody"}, headers=desk.staff)
    ).json() == []
    blank = await desk.platform.get("/api/v1/admin/orders", params={"q": "  "}, headers=desk.staff)
    assert (blank.status_code, blank.json()["code"]) == (422, "empty_query")


async def test_customer_service_refunds_a_paid_order_once_through_the_provider_with_its_reason(
    desk: Desk,
) -> None:
    order = await desk.order()
    order_no = order["order_no"]
    story = (await desk.platform.get(f"/api/v1/admin/orders/{order_no}", headers=desk.staff)).json()
    assert story["status"] == "paid" and story["total"] == "108.01"
    assert [p["status"] for p in story["payments"]] == ["succeeded"]
    assert {"order.created", "order.paid", "payment.succeeded"} <= {e["type"] for e in story["events"]}
    assert story["consignee"] == list(CONSIGNEE) and story["refunds"] == []

    _, merchandiser = await make_user(desk.ctx, Role.MERCHANDISER)
    url = f"/api/v1/admin/orders/{order_no}/refund"
    body = {"reason": "Parcel damaged in transit", "amount": "50.00"}
    assert (await desk.platform.post(url, json=body, headers=auth(merchandiser))).status_code == 403
    short = await desk.platform.post(url, json={"reason": "no"}, headers=desk.staff)
    assert short.status_code == 422
    too_much = await desk.platform.post(url, json={**body, "amount": "108.02"}, headers=desk.staff)
    assert (too_much.status_code, too_much.json()["code"]) == (422, "invalid_amount")

    done = await desk.platform.post(url, json=body, headers=desk.staff)
    assert done.status_code == 200, done.text
    assert done.json() | {"refund_id": 0} == {
        "refund_id": 0,
        "order_no": order_no,
        "amount": "50.00",
        "confirmed": True,
    }
    again = await desk.platform.post(url, json=body, headers=desk.staff)
    assert (again.status_code, again.json()["code"]) == (409, "already_refunded")

    async with desk.ctx.read() as conn:
        [row] = (await conn.execute(sa.select(refunds))).all()
        audit = (await conn.execute(sa.select(operator_audit))).all()
    assert (row.status, row.amount_fen, row.reason, row.note) == (
        "succeeded",
        5000,
        "staff_refund",
        body["reason"],
    )
    assert [(a.action, a.subject, a.details["amount"]) for a in audit] == [
        ("order.refunded", f"order:{order_no}", "50.00")
    ]
    types = await _types(desk.ctx, order_no)
    assert types.count("refund.requested") == 1 and types.count("refund.succeeded") == 1
    out_trade_no = story["payments"][0]["out_trade_no"]
    trade = (await desk.sandbox.get(f"/sandbox/trades/{out_trade_no}")).json()
    assert trade["refund_fee"] == "50.00", trade  # the provider paid it back

    listed = await desk.platform.get(
        "/api/v1/admin/refunds", params={"status": "succeeded"}, headers=desk.staff
    )
    assert [(r["order_no"], r["note"]) for r in listed.json()] == [(order_no, body["reason"])]
    story = (await desk.platform.get(f"/api/v1/admin/orders/{order_no}", headers=desk.staff)).json()
    assert [r["status"] for r in story["refunds"]] == ["succeeded"]
    assert [a["action"] for a in story["staff_actions"]] == ["order.refunded"]


async def test_an_unpaid_or_unknown_order_cannot_be_refunded(desk: Desk) -> None:
    order = await desk.order(pay=False)
    body = {"reason": "Buyer changed their mind"}
    unpaid = await desk.platform.post(
        f"/api/v1/admin/orders/{order['order_no']}/refund", json=body, headers=desk.staff
    )
    assert (unpaid.status_code, unpaid.json()["code"]) == (409, "not_paid")
    unknown = await desk.platform.post("/api/v1/admin/orders/NOSUCH/refund", json=body, headers=desk.staff)
    assert (unknown.status_code, unknown.json()["code"]) == (404, "order_not_found")


def _log_in(client: httpx.AsyncClient, ctx: Context, user_id: int, role: Role) -> None:
    data = {"uid": user_id, "role": role.value, "name": "Desk", "csrf": CSRF}
    cookie = web_session.encode(data, ctx.settings.keys.secret, 3600)
    client.cookies.clear()  # the session the server wrote back last, too
    client.cookies.set(web_session.COOKIE, cookie)


async def test_the_console_finds_an_order_and_refunds_it_only_after_a_confirmation(desk: Desk) -> None:
    order = await desk.order()
    order_no = order["order_no"]
    user_id, _ = await make_user(desk.ctx, Role.CUSTOMER_SERVICE)
    web = desk.platform
    web.headers["accept-language"] = "en"  # the console in English (Chinese: test_console_language.py)
    _log_in(web, desk.ctx, user_id, Role.CUSTOMER_SERVICE)
    search = await web.get("/operator/orders", params={"q": CONSIGNEE[1]})
    assert search.status_code == 200 and f'data-order="{order_no}"' in search.text
    exact = await web.get("/operator/orders", params={"q": order_no})
    assert (exact.status_code, exact.headers["location"]) == (303, f"/operator/orders/{order_no}")
    page = await web.get(f"/operator/orders/{order_no}")
    assert page.status_code == 200 and 'data-event="order.paid"' in page.text and "Refund…" in page.text

    form = {"csrf_token": CSRF, "amount": "", "reason": "Wrong size sent"}
    forged = await web.post(f"/operator/orders/{order_no}/refund", data={**form, "csrf_token": "nope"})
    assert forged.status_code == 403
    asked = await web.post(f"/operator/orders/{order_no}/refund", data=form)
    assert asked.status_code == 200 and "Yes, refund ¥108.01" in asked.text
    async with desk.ctx.read() as conn:
        assert await conn.scalar(sa.select(sa.func.count()).select_from(refunds)) == 0  # not before the yes
    done = await web.post(f"/operator/orders/{order_no}/refund", data={**form, "confirmed": "yes"})
    assert (done.status_code, done.headers["location"]) == (303, f"/operator/orders/{order_no}")
    after = await web.get(f"/operator/orders/{order_no}")
    assert "Refund of ¥108.01 for" in after.text and 'data-staff-action="order.refunded"' in after.text
    assert "Refund…" not in after.text  # once only
    refunded = await web.get("/operator/refunds")
    assert len(re.findall(r"data-refund=", refunded.text)) == 1 and "Wrong size sent" in refunded.text
    paid = await web.get("/operator/payments", params={"status": "succeeded"})
    assert f"/operator/orders/{order_no}" in paid.text

    merchandiser_id, _ = await make_user(desk.ctx, Role.MERCHANDISER)
    _log_in(web, desk.ctx, merchandiser_id, Role.MERCHANDISER)
    assert (await web.get(f"/operator/orders/{order_no}")).status_code == 403
