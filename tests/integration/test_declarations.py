"""Customs declaration end to end, over real HTTP between real parties on loopback ports: the platform,
the sandbox payment company, the sandbox carrier and the single-window simulator. The worker's own
``run_once`` drives every step: buy → pay → declare → match → release → ship, and every kind of
mismatch a partner can cause is rejected with its reason, then fixed and re-declared, or refunded."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from lxml import etree

from flashport.adapters.customs.gateway import InboxItem
from flashport.adapters.db import declaring_repo
from flashport.adapters.db.engine import create_engine
from flashport.adapters.db.schema import (
    customs_batches,
    customs_messages,
    declarations,
    orders,
    outbox,
    payment_exchanges,
    payments,
    refunds,
)
from flashport.app import create_app
from flashport.bootstrap import build_context, close_context
from flashport.ceb import validate, verify_signature
from flashport.ceb.tax_bills import TaxBill, TaxBillLine, TaxBillStatus, tax_bill_message
from flashport.domain.accounts import Principal, Role
from flashport.domain.declarations import DeclarationState
from flashport.domain.errors import Conflict
from flashport.sandbox_customs import CustomsSimSettings, create_customs_app
from flashport.sandbox_logistics import LogisticsSimSettings, create_logistics_app
from flashport.sandbox_pay.app import create_sandbox_app
from flashport.sandbox_pay.settings import SandboxSettings
from flashport.services.accounts import identities
from flashport.services.accounts.users import issue_token
from flashport.services.context import Context
from flashport.services.customs import documents, fulfilment
from flashport.services.customs.receipts import apply_page
from flashport.services.orders import checkout
from flashport.services.payments import settlement as payment_service
from flashport.services.sales import buying
from flashport.settings import Settings
from flashport.web import session as web_session
from flashport.worker import run_once
from tests.conftest import _empty_all_tables
from tests.factories import make_user
from tests.sale_builder import make_buyers, make_sale
from tests.servers import bound_socket, free_port, serving_all
from tests.waiting import HTTP_TIMEOUT

CHINA = timezone(timedelta(hours=8))
PAYER = ("李娜", "110105199003070025")
BUYER_PHONE = "13700137000"  # the buyer's own, declared as buyerTelephone (the consignee differs)
CONSIGNEE = ("王伟", "13800138000", "上海市浦东新区世纪大道100号")
LOGISTICS_KEY = "test-logistics-key"
STATES = tuple(state.value for state in DeclarationState)
CEB = "http://www.chinaport.gov.cn/ceb"


@dataclass
class Parties:
    ctx: Context
    platform: httpx.AsyncClient  # as an operator
    pay: httpx.AsyncClient
    customs: httpx.AsyncClient
    carrier: httpx.AsyncClient

    async def paid_order(self, *, overseas: bool = False, price_fen: int = 9900, units: int = 1) -> str:
        """A checked-out order of ``units`` units paid on the sandbox by its real-name buyer."""
        sale = await make_sale(self.ctx, quantity=5, limit=2, price_fen=price_fen, overseas=overseas)
        [(buyer, _)] = await make_buyers(self.ctx, 1)
        order = (await buying.buy(self.ctx, buyer, sale.item_id, units, f"k-{sale.item_id}")).order
        identity = await identities.add_identity(self.ctx, buyer, *PAYER, BUYER_PHONE)
        form = checkout.CheckoutForm(*CONSIGNEE, None, identity.id)
        await checkout.check_out(self.ctx, buyer, order["order_no"], form)
        payment = await payment_service.start_payment(self.ctx, buyer, order["order_no"])
        async with httpx.AsyncClient(timeout=HTTP_TIMEOUT) as browser:
            assert (await browser.get(payment.redirect_url)).status_code == 200
        paid = await self.pay.post(
            f"/sandbox/trades/{payment.out_trade_no}/pay",
            json={"payer_name": PAYER[0], "payer_id_number": PAYER[1]},
        )
        assert paid.status_code == 200, paid.text
        await self.until(lambda: self.state(order["order_no"]), "pending")
        return str(order["order_no"])

    async def state(self, order_no: str) -> str | None:
        async with self.ctx.read() as conn:
            return await conn.scalar(
                sa.select(declarations.c.state).where(declarations.c.order_no == order_no)
            )

    async def until(self, probe: Any, wanted: str, *, work: bool = False, tries: int = 150) -> None:
        """Wait (running worker passes if ``work``) until ``probe()`` gives ``wanted``."""
        for _ in range(tries):
            if work:
                await run_once(self.ctx)
            if await probe() == wanted:
                return
            await asyncio.sleep(0.03)
        raise AssertionError(f"never became {wanted}: {await probe()}")

    async def work_until(self, order_no: str, state: str) -> None:
        try:
            await self.until(lambda: self.state(order_no), state, work=True)
        except AssertionError as exc:  # say why: the rejection reason or the last sending error
            detail = await self.detail(order_no)
            why = {k: detail[k] for k in ("state", "reason_code", "reason", "last_error")}
            raise AssertionError(f"{order_no} never became {state}: {why}") from exc

    async def events(self, order_no: str) -> list[str]:
        async with self.ctx.read() as conn:
            return list(
                (
                    await conn.scalars(
                        sa.select(outbox.c.type)
                        .where(outbox.c.subject == f"order:{order_no}")
                        .order_by(outbox.c.id)
                    )
                ).all()
            )

    async def detail(self, order_no: str) -> dict[str, Any]:
        answer = await self.platform.get(f"/api/v1/declarations/{order_no}")
        assert answer.status_code == 200, answer.text
        return dict(answer.json())

    async def carrier_fault(self, order_no: str, fault: str | None) -> None:
        answer = await self.carrier.post("/sandbox/faults", json={"order_no": order_no, "fault": fault})
        assert answer.status_code in (200, 204), answer.text

    async def pay_fault(self, order_no: str, fault: str | None) -> None:
        answer = await self.pay.post(f"/sandbox/trades/{order_no}/customs-fault", json={"fault": fault})
        assert answer.status_code in (200, 204), answer.text


@pytest.fixture
async def parties(request: pytest.FixtureRequest, database_settings: Settings) -> AsyncIterator[Parties]:
    """The four parties; ``indirect`` parametrisation passes settings of the single window."""
    sim_overrides: dict[str, Any] = getattr(request, "param", {})
    # Bound now and kept until each server takes its socket: no other process can take the port between.
    socks = {name: bound_socket() for name in ("platform", "pay", "customs", "carrier")}
    ports = {name: sock.getsockname()[1] for name, sock in socks.items()}
    url = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    settings = database_settings.model_copy(
        update={
            "payment_gateway_url": f"{url['pay']}/gateway.do",
            "payment_notify_url": f"{url['platform']}/api/v1/payments/alipay/notify",
            "payment_return_url": f"{url['platform']}/orders",
            "customs_url": url["customs"],
            "logistics_url": url["carrier"],
            "logistics_api_key": LOGISTICS_KEY,
            "customs_fix_window_seconds": 3600,
        }
    )
    engine = create_engine(settings)
    await _empty_all_tables(engine)
    await engine.dispose()
    sim_dir = settings.data_dir / f"parties-{ports['customs']}"
    ctx = await build_context(settings)
    documents.signer(ctx)  # made now, so the single window can register its certificate
    key = settings.customs_signing_key or settings.data_dir / "customs" / "signing-key.pem"
    sim_overrides = {"certificates": [f"platform:{settings.customs_agent_code}:{key}"], **sim_overrides}
    apps = {
        "platform": create_app(ctx=ctx),
        "pay": create_sandbox_app(
            SandboxSettings(
                data_dir=settings.data_dir, notify_schedule=[0.2, 0.4], customs_url=url["customs"]
            )
        ),
        "customs": create_customs_app(CustomsSimSettings(data_dir=sim_dir, **sim_overrides)),
        "carrier": create_logistics_app(
            LogisticsSimSettings(data_dir=sim_dir, customs_url=url["customs"], api_key=LOGISTICS_KEY)
        ),
    }
    _, token = await make_user(ctx, Role.OPERATOR)
    try:
        async with contextlib.AsyncExitStack() as stack:
            started = {name: (apps[name], socks[name]) for name in ("customs", "carrier", "pay", "platform")}
            await stack.enter_async_context(serving_all(started))
            clients = {
                name: await stack.enter_async_context(
                    httpx.AsyncClient(timeout=HTTP_TIMEOUT, base_url=url[name], headers=headers)
                )
                for name, headers in (
                    ("platform", {"authorization": f"Bearer {token}"}),
                    ("pay", {}),
                    ("customs", {}),
                    ("carrier", {"authorization": f"Bearer {LOGISTICS_KEY}"}),
                )
            }
            yield Parties(ctx, clients["platform"], clients["pay"], clients["customs"], clients["carrier"])
    finally:
        await close_context(ctx)


async def _messages(parties: Parties, order_no: str) -> list[Any]:
    async with parties.ctx.read() as conn:
        return list(
            (
                await conn.execute(
                    sa.select(customs_messages)
                    .join(declarations, declarations.c.id == customs_messages.c.declaration_id)
                    .where(declarations.c.order_no == order_no)
                    .order_by(customs_messages.c.id)
                )
            ).all()
        )


async def test_a_paid_order_is_declared_matched_released_and_shipped_by_the_worker(parties: Parties) -> None:
    order_no = await parties.paid_order()
    await parties.work_until(order_no, "shipped")

    events = await parties.events(order_no)
    steps = [e for e in events if e.startswith(("declaration.", "order.shipped", "order.paid"))]
    assert steps == [
        "order.paid",
        "declaration.opened",
        "declaration.declared",
        "declaration.received",
        "declaration.matched",
        "declaration.released",
        "order.shipped",
    ]
    assert events.count("customs.message_sent") == 2  # the platform's own: order and inventory list

    detail = await parties.detail(order_no)
    assert detail["state"] == "shipped" and detail["trade_mode"] == "1210" and detail["version"] == 1
    assert detail["logistics_no"] and detail["payment_declare_no"] and detail["reason_code"] is None
    kinds = {(m["kind"], m["party"], m["app_type"]) for m in detail["messages"]}
    assert kinds == {("CEB311", "platform", "1"), ("CEB511", "logistics", "1"), ("CEB621", "platform", "1")}
    statuses = [(r["kind"], r["return_status"]) for r in detail["receipts"]]
    assert ("CEB312", 120) in statuses
    assert [s for k, s in statuses if k == "CEB622"] == [2, 120, 800]
    assert PAYER[1] not in str(detail)  # the ID number never shows in the view

    for message in detail["messages"]:
        download = await parties.platform.get(f"/api/v1/declarations/{order_no}/messages/{message['id']}")
        assert download.status_code == 200 and download.headers["content-type"].startswith("application/xml")
        assert "attachment" in download.headers["content-disposition"]
        assert validate(download.content) == [], message["kind"]
        assert f"<ceb:orderNo>{order_no}</ceb:orderNo>".encode() in download.content
    assert (await parties.events(order_no)).count("customs.message_downloaded") == len(detail["messages"])
    async with parties.ctx.read() as conn:
        own = await conn.scalars(sa.select(customs_messages.c.body_cipher))
        batched = await conn.scalars(sa.select(customs_batches.c.body_cipher))
        assert all(PAYER[1] not in body for body in [*own, *batched] if body)  # encrypted at rest
        exchanges = (await conn.execute(sa.select(payment_exchanges))).all()
    declared = [e for e in exchanges if e.kind == "customs_declare"]
    assert len(declared) == 1 and declared[0].verified
    assert all(PAYER[1] not in f"{e.request}{e.response}" for e in exchanges)  # masked in the audit trail

    on_customs_side = (await parties.customs.get(f"/declarations/{order_no}")).json()
    assert on_customs_side["state"] == "released"
    waybill = (await parties.carrier.get(f"/v1/waybills/{detail['logistics_no']}")).json()
    assert waybill["status"] == "in_transit"


def _texts(message: bytes, tag: str) -> list[str]:
    root = etree.fromstring(message)
    return [(node.text or "") for node in root.iter(f"{{{CEB}}}{tag}")]


async def test_the_order_and_the_inventory_list_declare_the_goods_as_customs_reads_them(
    parties: Parties,
) -> None:
    """Two 900 g tins: the same Chinese name and gmodel in CEB311 and CEB621, 1.8 kg net in the HS
    code's legal unit, a gross weight with the packaging, the bonded area's registered code and the
    account book's record number, and the buyer's own phone (not the consignee's)."""
    order_no = await parties.paid_order(units=2)
    await parties.work_until(order_no, "shipped")
    detail = await parties.detail(order_no)
    bodies = {}
    for message in detail["messages"]:
        download = await parties.platform.get(f"/api/v1/declarations/{order_no}/messages/{message['id']}")
        assert validate(download.content) == [], message["kind"]
        bodies[message["kind"]] = download.content
    order, inventory = bodies["CEB311"], bodies["CEB621"]

    assert _texts(order, "itemName") == _texts(inventory, "itemName") == ["婴儿配方奶粉"]
    assert _texts(inventory, "gname") == ["婴儿配方奶粉"]
    assert (
        _texts(order, "gmodel")
        == _texts(inventory, "gmodel")
        == ["品牌:a2|规格:900克/罐|成分:乳粉、乳糖、植物油"]
    )
    assert _texts(order, "unit") == _texts(inventory, "unit") == ["122"]  # sold by the can
    assert [Decimal(q) for q in _texts(inventory, "qty1")] == [Decimal("1.8")]
    assert _texts(inventory, "unit1") == ["035"]
    assert [Decimal(w) for w in _texts(inventory, "netWeight")] == [Decimal("1.8")]
    assert [Decimal(w) for w in _texts(inventory, "grossWeight")] == [Decimal("2.3")]  # + 2 x 250 g
    assert _texts(inventory, "areaCode") == ["2244960001"]
    [record_no] = _texts(inventory, "itemRecordNo")
    assert record_no.startswith("T2244W") and record_no.endswith("-1")
    assert _texts(order, "buyerTelephone") == _texts(inventory, "buyerTelephone") == [BUYER_PHONE]
    assert _texts(order, "consigneeTelephone") == [CONSIGNEE[1]]


async def test_a_direct_import_is_declared_under_9610_with_the_carriers_flight(parties: Parties) -> None:
    order_no = await parties.paid_order(overseas=True)
    await parties.work_until(order_no, "shipped")
    detail = await parties.detail(order_no)
    assert detail["trade_mode"] == "9610" and detail["bill_no"]
    inventory = next(m for m in detail["messages"] if m["kind"] == "CEB621")
    body = (await parties.platform.get(f"/api/v1/declarations/{order_no}/messages/{inventory['id']}")).content
    assert b"<ceb:tradeMode>9610</ceb:tradeMode>" in body and detail["bill_no"].encode() in body


async def test_only_a_released_parcel_can_ship(parties: Parties) -> None:
    order_no = await parties.paid_order()
    async with parties.ctx.read() as conn:
        declaration_id = await conn.scalar(
            sa.select(declarations.c.id).where(declarations.c.order_no == order_no)
        )
    with pytest.raises(Conflict) as refused:
        await fulfilment.ship(parties.ctx, declaration_id)
    assert refused.value.code == "not_released"
    await parties.work_until(order_no, "shipped")


@pytest.mark.parametrize(
    ("who", "fault", "reason"),
    [
        ("pay", "amount", "amount_mismatch"),
        ("carrier", "consignee", "consignee_mismatch"),
        ("carrier", "waybill_number", "waybill_mismatch"),
    ],
)
async def test_a_partners_mismatch_is_rejected_with_its_reason_and_released_after_a_fix(
    parties: Parties, who: str, fault: str, reason: str
) -> None:
    order_no = await parties.paid_order()
    if who == "pay":
        await parties.pay_fault(order_no, fault)
    else:
        await parties.carrier_fault(order_no, fault)
    await parties.work_until(order_no, "rejected")
    detail = await parties.detail(order_no)
    assert detail["reason_code"] == reason, detail["reason"]
    assert detail["refund_after"] is not None
    assert "declaration.rejected" in await parties.events(order_no)
    shipped = await parties.platform.get("/api/v1/declarations", params={"state": "shipped"})
    assert order_no not in [d["order_no"] for d in shipped.json()["items"]]
    rejected = await parties.platform.get("/api/v1/declarations", params={"state": "rejected"})
    assert [d["order_no"] for d in rejected.json()["items"]] == [order_no]
    assert rejected.json()["counts"] == {state: int(state == "rejected") for state in STATES}

    # The partner fixes its side; the compliance officer re-declares: everything goes again as changes.
    if who == "pay":
        await parties.pay_fault(order_no, None)
    else:
        await parties.carrier_fault(order_no, None)
    again = await parties.platform.post(f"/api/v1/declarations/{order_no}/redeclare")
    assert again.status_code == 200, again.text
    assert again.json()["state"] == "pending" and again.json()["version"] == 2
    await parties.work_until(order_no, "shipped")
    detail = await parties.detail(order_no)
    assert {m["app_type"] for m in detail["messages"] if m["version"] == 2} == {"2"}
    refused = await parties.platform.post(f"/api/v1/declarations/{order_no}/redeclare")
    assert refused.status_code == 409 and refused.json()["code"] == "declaration_not_rejected"


async def test_a_failed_identity_check_stops_the_declaration_and_the_operator_and_buyer_see_why(
    parties: Parties,
) -> None:
    order_no = await parties.paid_order()
    await parties.pay_fault(order_no, "payer")  # the payment company finds someone else paid
    await parties.work_until(order_no, "rejected")
    detail = await parties.detail(order_no)
    assert detail["reason_code"] == "identity_check_failed"
    assert "not the order's buyer" in detail["reason"] and detail["refund_after"] is not None
    assert detail["payment_declare_no"]
    # Stopped before it went further: no waybill asked for, no inventory list sent.
    assert [m["kind"] for m in detail["messages"]] == ["CEB311"] and detail["logistics_no"] is None
    for _ in range(3):
        await run_once(parties.ctx)
    assert await parties.state(order_no) == "rejected"  # it stays stopped until someone acts
    assert (await parties.events(order_no)).count("declaration.rejected") == 1
    rejected = await parties.platform.get("/api/v1/declarations", params={"state": "rejected"})
    assert [d["order_no"] for d in rejected.json()["items"]] == [order_no]

    # The buyer is told, through the API and on the order page.
    async with parties.ctx.read() as conn:
        buyer_id = await conn.scalar(sa.select(orders.c.buyer_id).where(orders.c.order_no == order_no))
    token = issue_token(parties.ctx.settings, Principal(buyer_id, Role.BUYER), parties.ctx.clock())
    mine = await parties.platform.get(
        f"/api/v1/orders/{order_no}", headers={"authorization": f"Bearer {token}"}
    )
    assert (mine.json()["customs_status"], mine.json()["customs_reason_code"]) == (
        "rejected",
        "identity_check_failed",
    )
    session = {"uid": buyer_id, "role": "buyer", "name": "Buyer", "csrf": "csrf"}
    cookie = web_session.encode(session, parties.ctx.settings.keys.secret, 3600)
    async with httpx.AsyncClient(timeout=HTTP_TIMEOUT, base_url=parties.platform.base_url) as browser:
        page = await browser.get(
            f"/orders/{order_no}",
            headers={"cookie": f"{web_session.COOKIE}={cookie}", "accept-language": "en"},
        )
    assert page.status_code == 200
    assert "the person who paid is not the buyer named on this order" in page.text

    # Put right at the payment company, re-declared by the officer: it goes all the way.
    await parties.pay_fault(order_no, None)
    again = await parties.platform.post(f"/api/v1/declarations/{order_no}/redeclare")
    assert again.status_code == 200, again.text
    await parties.work_until(order_no, "shipped")


async def test_a_wrong_consignee_is_corrected_by_the_officer_and_the_declaration_released(
    parties: Parties,
) -> None:
    order_no = await parties.paid_order()
    await parties.carrier_fault(order_no, "consignee")
    await parties.work_until(order_no, "rejected")
    await parties.carrier_fault(order_no, None)
    fix = {"consignee": {"name": "王伟", "phone": "13900139000", "address": "上海市徐汇区漕溪北路1号"}}
    again = await parties.platform.post(f"/api/v1/declarations/{order_no}/redeclare", json=fix)
    assert again.status_code == 200, again.text
    await parties.work_until(order_no, "shipped")
    detail = await parties.detail(order_no)
    waybill = next(m for m in detail["messages"] if m["kind"] == "CEB511" and m["version"] == 2)
    body = (await parties.platform.get(f"/api/v1/declarations/{order_no}/messages/{waybill['id']}")).content
    assert b"13900139000" in body and "漕溪北路".encode() in body


async def test_a_rejection_not_fixed_within_the_window_is_refunded_once(parties: Parties) -> None:
    order_no = await parties.paid_order()
    await parties.pay_fault(order_no, "amount")
    await parties.work_until(order_no, "rejected")
    async with parties.ctx.transaction() as tx:  # the fix window passes
        await tx.conn.execute(
            declarations.update().where(declarations.c.order_no == order_no).values(refund_after=tx.now)
        )
    await parties.work_until(order_no, "refunded")
    for _ in range(3):
        await run_once(parties.ctx)
    async with parties.ctx.read() as conn:
        made = (await conn.execute(sa.select(refunds.c.reason, refunds.c.status))).all()
    assert [(r.reason, r.status) for r in made] == [("customs_rejected", "succeeded")]
    trade = (await parties.pay.get(f"/sandbox/trades/{order_no}")).json()
    assert trade["refund_fee"] == "108.01"
    events = await parties.events(order_no)
    assert events.count("declaration.refunded") == 1 and events.count("declaration.withdrawn") == 1
    late = await parties.platform.post(f"/api/v1/declarations/{order_no}/redeclare")
    assert late.status_code == 409
    # No parcel will leave: the documents are withdrawn at customs and the waybill cancelled.
    detail = await parties.detail(order_no)
    deleted = sorted((m["kind"], m["party"]) for m in detail["messages"] if m["app_type"] == "3")
    assert deleted == [("CEB311", "platform"), ("CEB511", "logistics"), ("CEB621", "platform")]
    assert (await parties.customs.get(f"/declarations/{order_no}")).json()["state"] == "cancelled"
    waybill = (await parties.carrier.get(f"/v1/waybills/{detail['logistics_no']}")).json()
    assert waybill["status"] == "cancelled"
    assert detail["state"] == "refunded"  # the deletion's receipts do not move it


async def test_receipts_read_again_change_nothing_and_old_versions_are_not_applied(parties: Parties) -> None:
    order_no = await parties.paid_order()
    await parties.carrier_fault(order_no, "consignee")
    await parties.work_until(order_no, "rejected")
    await parties.carrier_fault(order_no, None)
    assert (await parties.platform.post(f"/api/v1/declarations/{order_no}/redeclare")).status_code == 200
    await parties.work_until(order_no, "shipped")
    before = (await parties.detail(order_no))["receipts"]
    async with parties.ctx.transaction() as tx:  # the whole inbox is read again from the start
        await tx.conn.execute(sa.text("DELETE FROM customs_inbox_cursors"))
    await run_once(parties.ctx)
    detail = await parties.detail(order_no)
    assert detail["state"] == "shipped" and detail["receipts"] == before
    rejection = [r for r in before if r["kind"] == "CEB622" and r["return_status"] == 100]
    assert len(rejection) == 1 and rejection[0]["applied"]
    assert (await parties.events(order_no)).count("declaration.released") == 1


@pytest.mark.parametrize("parties", [{"annual_limit_fen": 15_000}], indirect=True)
async def test_customs_rejects_a_buyer_past_the_annual_limit_it_counts_itself(parties: Parties) -> None:
    """Customs adds up what the person bought on every platform; here its limit is 150.00 while the
    platform's is the default, so the second order (99.00 of dutiable value; 198.00 in the year) passes the
    platform and customs refuses it."""
    first = await parties.paid_order()
    await parties.work_until(first, "shipped")
    second = await parties.paid_order()
    # No fix can change what the buyer already bought this year: refunded without waiting.
    await parties.work_until(second, "refunded")
    assert (await parties.detail(second))["reason_code"] == "annual_limit_exceeded"
    events = await parties.events(second)
    assert events.index("declaration.rejected") < events.index("declaration.refunded")


async def test_an_unreachable_single_window_leaves_the_declaration_pending_and_it_resumes(
    parties: Parties,
) -> None:
    order_no = await parties.paid_order()
    customs = parties.ctx.customs
    assert customs is not None
    from flashport.adapters.customs.gateway import HttpCustomsGateway

    parties.ctx.customs = HttpCustomsGateway(f"http://127.0.0.1:{free_port()}")
    try:
        await run_once(parties.ctx)
        detail = await parties.detail(order_no)
        assert detail["state"] == "pending" and detail["attempts"] == 1
        assert "CustomsUnavailable" in (detail["last_error"] or "")
    finally:
        await parties.ctx.customs.close()
        parties.ctx.customs = customs
    async with parties.ctx.transaction() as tx:  # do not wait out the back-off
        await tx.conn.execute(
            declarations.update().where(declarations.c.order_no == order_no).values(next_attempt_at=tx.now)
        )
    await parties.work_until(order_no, "shipped")
    sent = [m for m in await _messages(parties, order_no) if m.kind == "CEB311"]
    assert len(sent) == 1 and sent[0].sent_at is not None  # the stored message was resent, not remade


async def test_two_workers_declare_each_order_once(parties: Parties) -> None:
    orders_ = [await parties.paid_order() for _ in range(3)]
    second = await build_context(parties.ctx.settings, listen_for_restock=False)
    try:
        for _ in range(40):
            await asyncio.gather(run_once(parties.ctx), run_once(second))
            if all([await parties.state(o) == "shipped" for o in orders_]):
                break
    finally:
        await close_context(second)
    for order_no in orders_:
        assert await parties.state(order_no) == "shipped", (
            await parties.customs.get(f"/declarations/{order_no}")
        ).json()
        events = await parties.events(order_no)
        for once in ("declaration.declared", "declaration.released", "order.shipped"):
            assert events.count(once) == 1, (once, events)
        assert len([m for m in await _messages(parties, order_no) if m.party == "platform"]) == 2
    on_customs = [(await parties.customs.get(f"/declarations/{o}")).json() for o in orders_]
    assert all(d["state"] == "released" for d in on_customs)


async def test_the_flashport_worker_process_takes_a_paid_order_all_the_way_to_shipped(
    parties: Parties,
) -> None:
    """The real ``flashport worker`` process, configured only by environment variables."""
    s = parties.ctx.settings
    env = {key: value for key, value in os.environ.items() if not key.startswith("FLASHPORT_")}
    env |= {
        "FLASHPORT_ENV": "test",
        "FLASHPORT_DATA_DIR": str(s.data_dir),
        "FLASHPORT_PAYMENT_GATEWAY_URL": s.payment_gateway_url,
        "FLASHPORT_CUSTOMS_URL": s.customs_url,
        "FLASHPORT_LOGISTICS_URL": s.logistics_url,
        "FLASHPORT_LOGISTICS_API_KEY": s.logistics_api_key,
        "FLASHPORT_WORKER_POLL_SECONDS": "0.1",
        "FLASHPORT_LOG_LEVEL": "warning",
    }
    if s.database_url:
        env["FLASHPORT_DATABASE_URL"] = s.database_url
    order_no = await parties.paid_order()
    worker = await asyncio.create_subprocess_exec(sys.executable, "-m", "flashport", "worker", env=env)
    try:
        await parties.until(lambda: parties.state(order_no), "shipped", tries=600)
    finally:
        worker.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(worker.wait(), 20) == 0  # a clean stop on SIGTERM
    assert (await parties.events(order_no)).count("order.shipped") == 1


async def _kept_bodies(parties: Parties) -> list[bytes]:
    """Every customs message the platform kept (its own and the partners'), opened."""
    async with parties.ctx.read() as conn:
        own = (await conn.scalars(sa.select(customs_messages.c.body_cipher))).all()
        batched = (await conn.scalars(sa.select(customs_batches.c.body_cipher))).all()
    return [parties.ctx.vault.open(body).encode() for body in [*own, *batched] if body]


async def test_one_bad_order_waits_alone_and_the_rest_of_its_batch_ships(parties: Parties) -> None:
    orders_ = [await parties.paid_order() for _ in range(5)]
    missing, refused = orders_[1], orders_[3]
    good = [o for o in orders_ if o not in (missing, refused)]
    async with parties.ctx.transaction() as tx:
        # Missing consignee data: checkout's record lost its address.
        await tx.conn.execute(
            orders.update().where(orders.c.order_no == missing).values(consignee_address=None)
        )
        out_trade_no = await tx.conn.scalar(
            sa.select(payments.c.out_trade_no)
            .join(orders, orders.c.id == payments.c.order_id)
            .where(orders.c.order_no == refused)
        )
    # A partner refusing it: the payment company's identity check fails for this order only.
    planted = await parties.pay.post(f"/sandbox/trades/{out_trade_no}/customs-fault", json={"fault": "payer"})
    assert planted.status_code == 200, planted.text

    for _ in range(60):
        await run_once(parties.ctx)
        if all([await parties.state(o) == "shipped" for o in good]):
            break
    for order_no in good:
        assert await parties.state(order_no) == "shipped"
        events = await parties.events(order_no)
        assert events.count("declaration.declared") == 1 and events.count("order.shipped") == 1
    waiting = await parties.detail(missing)
    assert waiting["state"] == "pending" and "NotDeclarable" in waiting["last_error"]
    stopped = await parties.detail(refused)
    assert stopped["state"] == "rejected" and stopped["reason_code"] == "identity_check_failed"

    # The good orders' documents went together: one CEB311 and one CEB621 for all of them.
    async with parties.ctx.read() as conn:
        kept = (
            await conn.execute(
                sa.select(customs_messages.c.kind, customs_messages.c.batch_id)
                .join(declarations, declarations.c.id == customs_messages.c.declaration_id)
                .where(declarations.c.order_no.in_(good), customs_messages.c.party == "platform")
            )
        ).all()
    batches = {kind: {b for k, b in kept if k == kind} for kind in ("CEB311", "CEB621")}
    assert all(len(ids) == 1 and None not in ids for ids in batches.values()), kept
    bodies = await _kept_bodies(parties)
    assert bodies and all(validate(body) == [] for body in bodies)
    inventories = [b for b in bodies if b"CEB621Message" in b and b.count(b"<ceb:Inventory>") == len(good)]
    assert len(inventories) == 1
    verify_signature(inventories[0], documents.signer(parties.ctx).certificate)


async def test_claims_hold_their_limit_and_two_claims_never_share_a_declaration(parties: Parties) -> None:
    for _ in range(3):
        await parties.paid_order()
    ctx = parties.ctx
    now = ctx.clock()
    until = now + timedelta(minutes=2)
    if ctx.settings.is_sqlite:  # one writer: the claims come one after the other
        async with ctx.transaction() as tx:
            first = await declaring_repo.claim_due(tx.conn, now, until, 2)
        async with ctx.transaction() as tx:
            second = await declaring_repo.claim_due(tx.conn, now, until, 2)
    else:  # the first claim still open while the second is made: its rows are skipped, not waited for
        async with ctx.transaction() as one:
            first = await declaring_repo.claim_due(one.conn, now, until, 2)
            async with ctx.transaction() as two:
                second = await declaring_repo.claim_due(two.conn, now, until, 2)
    assert len(first) == 2 and len(second) == 1
    assert not {d.id for d in first} & {d.id for d in second}


# --- the tax bill family: the platform as withholding agent -------------------------------------------


async def _tax_of(parties: Parties, order_no: str) -> dict[str, Any]:
    answer = await parties.platform.get(f"/api/v1/withholding/orders/{order_no}")
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


async def _collected(parties: Parties, order_no: str) -> int:
    async with parties.ctx.read() as conn:
        return int(await conn.scalar(sa.select(orders.c.tax_fen).where(orders.c.order_no == order_no)) or 0)


async def test_customs_tax_bill_is_kept_and_reconciled_with_the_tax_the_buyer_paid(parties: Parties) -> None:
    order_no = await parties.paid_order()
    await parties.work_until(order_no, "shipped")
    tax = await _tax_of(parties, order_no)  # the bill came in the inbox with the release
    collected = await _collected(parties, order_no)
    assert collected > 0
    assert (tax["reconciliation"], tax["billed_fen"], tax["collected_fen"]) == (
        "matched",
        collected,
        collected,
    )
    (bill,) = tax["bills"]
    assert bill["status"] == "1" and len(tax["invt_no"]) == 18

    # Customs gathers the month's bills for payment: the CEB818 moves the bill to summarised.
    period = datetime.fromisoformat(bill["issued_at"]).astimezone(CHINA).strftime("%Y-%m")
    summed = await parties.customs.post("/admin/tax-bills/summarise", json={"period": period})
    assert summed.status_code == 200 and summed.json()["bills"] == 1
    await parties.until(lambda: _bill_status(parties, order_no), "2", work=True)
    month = (await parties.platform.get(f"/api/v1/withholding/periods/{period}")).json()
    assert (month["owed_fen"], month["collected_fen"], month["summarised_fen"]) == (
        collected,
        collected,
        collected,
    )
    assert month["mismatches"] == [] and month["bills"] == 1


async def _bill_status(parties: Parties, order_no: str) -> str:
    return str((await _tax_of(parties, order_no))["bills"][0]["status"])


def _supplementary_bill(invt_no: str, tax_no: str, vat_fen: int, issued: datetime) -> bytes:
    """A bill as customs would send one reassessing a released list (补税): built by the codec."""
    bill = TaxBill(
        guid=str(uuid.uuid4()).upper(), return_time=issued, invt_no=invt_no, tax_no=tax_no,
        customs_tax_fen=0, vat_fen=vat_fen, consumption_tax_fen=0, status=TaxBillStatus.ISSUED,
        lines=(TaxBillLine(1, "0402290000", 9900, 0, vat_fen, 0),),
    )  # fmt: skip
    return tax_bill_message([bill])


async def test_a_bill_other_than_the_tax_collected_is_a_mismatch_and_the_month_sums_every_bill(
    parties: Parties,
) -> None:
    first, second = await parties.paid_order(), await parties.paid_order()
    for order_no in (first, second):
        await parties.work_until(order_no, "shipped")
    collected = [await _collected(parties, n) for n in (first, second)]
    second_tax = await _tax_of(parties, second)
    issued = datetime.fromisoformat(second_tax["bills"][0]["issued_at"])
    # Customs bills the second order 1.23 more, in a supplementary bill of the same month.
    extra = InboxItem(
        10**12, "CEB816", _supplementary_bill(second_tax["invt_no"], "SUPPLEMENT-1", 123, issued)
    )
    for _ in range(2):  # a page read twice stores the bill once
        await apply_page(parties.ctx, parties.ctx.settings.customs_dxp_id, [extra])

    assert (await _tax_of(parties, first))["reconciliation"] == "matched"
    mismatch = await _tax_of(parties, second)
    assert (mismatch["reconciliation"], mismatch["difference_fen"]) == ("under_collected", 123)
    assert mismatch["billed_fen"] == collected[1] + 123 and len(mismatch["bills"]) == 2

    period = issued.astimezone(CHINA).strftime("%Y-%m")
    month = (await parties.platform.get(f"/api/v1/withholding/periods/{period}")).json()
    assert month["bills"] == 3
    assert month["owed_fen"] == sum(collected) + 123  # what the platform owes: every bill of the month
    assert month["collected_fen"] == sum(collected) and month["difference_fen"] == 123
    assert [(m["order_no"], m["difference_fen"]) for m in month["mismatches"]] == [(second, 123)]
    assert (await parties.platform.get("/api/v1/withholding/periods/2026-13")).status_code == 422
    assert (await parties.platform.get("/api/v1/withholding/orders/FP-NONE")).status_code == 404
