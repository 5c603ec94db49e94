"""Parcel tracking over real HTTP on loopback ports, the four parties running: the platform records
declared, released, picked and handed over as its back office moves the parcel; the sandbox carrier,
a partner with its own key, reports in transit and delivered to the platform's partner API and
declares the delivery to customs (CEB513, answered by a CEB514); the buyer reads carrier, waybill and
milestones from the order API. Every new milestone is one ``shipment.milestone`` outbox event."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from flashport.ceb import Enterprise, Sender, parse_receipts
from flashport.ceb.delivery import DeliveryDeclaration, delivery_message
from flashport.domain.accounts import Role
from flashport.domain.partners import PartnerKind
from flashport.services.customs import declaring
from flashport.services.partners import enrolment
from flashport.settings import Settings
from tests.factories import make_user
from tests.tracking_world import JOURNEY, Tracking, tracking_world
from tests.waiting import eventually


@pytest.fixture
async def tracking(database_settings: Settings) -> AsyncIterator[Tracking]:
    async with tracking_world(database_settings) as world:
        yield world


async def test_the_back_office_records_declared_released_picked_and_handed_over_once_each(
    tracking: Tracking,
) -> None:
    order_no, logistics_no, token = await tracking.shipped_order()
    shipment = await tracking.shipment(order_no, token)
    assert shipment["logistics_no"] == logistics_no
    assert shipment["carrier"] == tracking.carrier_settings.customs_name
    assert [m["milestone"] for m in shipment["milestones"]] == JOURNEY[:4]
    assert shipment["delivered"] is False
    events = await tracking.milestone_events(order_no)
    assert [(e["type"], e["milestone"]) for e in events] == [("shipment.milestone", m) for m in JOURNEY[:4]]
    assert {e["order_no"] for e in events} == {order_no} and all(e["order_id"] and e["at"] for e in events)


async def test_the_carrier_reports_transit_and_delivery_and_declares_the_delivery_to_customs(
    tracking: Tracking,
) -> None:
    order_no, logistics_no, token = await tracking.shipped_order()
    assert (await tracking.scan(logistics_no, "in_transit")).status_code == 200
    delivered = await tracking.scan(logistics_no, "delivered")
    assert delivered.status_code == 200, delivered.text
    assert delivered.json()["status"] == "delivered"

    async def platform_knows() -> bool:
        return (await tracking.shipment(order_no, token))["delivered"]

    await eventually(platform_knows, what="the delivery reported to the platform")
    shipment = await tracking.shipment(order_no, token)
    assert [m["milestone"] for m in shipment["milestones"]] == JOURNEY
    # Delivered again (a second scan): nothing is reported twice.
    assert (await tracking.scan(logistics_no, "delivered")).status_code == 200
    events = await tracking.milestone_events(order_no)
    assert [e["type"] for e in events].count("shipment.delivered") == 1
    assert [e.get("milestone") for e in events if e["type"] == "shipment.milestone"] == JOURNEY

    async def customs_answered() -> list[Any]:
        page = await tracking.parties.customs.get(f"/dxp/inbox/{tracking.carrier_settings.dxp_id}")
        receipts = [
            r
            for item in page.json()["items"]
            if item["kind"] == "CEB514"
            for r in parse_receipts(item["message"].encode())
        ]
        return receipts

    await eventually(customs_answered, what="the CEB514 answering the carrier's CEB513")
    [receipt] = await customs_answered()
    assert receipt.return_status == 399 and receipt.business_keys["logisticsNo"] == logistics_no
    assert receipt.business_keys["logisticsStatus"] == "S"


async def test_a_parcel_not_on_its_way_cannot_be_delivered(tracking: Tracking) -> None:
    order_no = await tracking.parties.paid_order()
    assert await declaring.declare_pending(tracking.parties.ctx) == 1  # the carrier has no parcel yet
    logistics_no = (await tracking.parties.detail(order_no))["logistics_no"]
    refused = await tracking.scan(logistics_no, "delivered")
    assert refused.status_code == 409 and refused.json()["code"] == "waybill_not_in_transit"
    unknown = await tracking.scan(logistics_no, "teleported")
    assert unknown.status_code == 422


async def test_only_the_waybills_carrier_reports_and_bad_reports_are_clear_errors(tracking: Tracking) -> None:
    order_no, logistics_no, token = await tracking.shipped_order()
    ctx = tracking.parties.ctx
    _, other_carrier = await enrolment.enrol(
        ctx, name="Other carrier", kind=PartnerKind.CARRIER, logistics_code="OTHER01"
    )
    _, payer = await enrolment.enrol(
        ctx, name="A payment company", kind=PartnerKind.PAYMENT_COMPANY, pay_code="PAYX"
    )
    cases = [
        ({"milestone": "in_transit"}, None, 401, "missing_token"),
        ({"milestone": "in_transit"}, payer, 403, "not_a_carrier"),
        ({"milestone": "in_transit"}, other_carrier, 404, "waybill_not_found"),
        ({"milestone": "released"}, tracking.carrier_key, 422, "not_a_carrier_milestone"),
        ({"milestone": "teleported"}, tracking.carrier_key, 422, "unknown_milestone"),
        ({"milestone": "delivered", "at": "2026-12-03T10:00:00"}, tracking.carrier_key, 422, "naive_time"),
        (
            {"milestone": "delivered", "at": (datetime.now(UTC) + timedelta(days=1)).isoformat()},
            tracking.carrier_key,
            422,
            "time_in_future",
        ),
    ]
    for body, key, status, code in cases:
        answer = await tracking.report(logistics_no, body, key)
        assert (answer.status_code, answer.json()["code"]) == (status, code), (body, answer.text)
    assert [m["milestone"] for m in (await tracking.shipment(order_no, token))["milestones"]] == JOURNEY[:4]
    # The carrier itself, straight to the platform's API, twice: recorded once.
    for _ in range(2):
        answer = await tracking.report(logistics_no, {"milestone": "in_transit"}, tracking.carrier_key)
        assert answer.status_code == 200, answer.text
    assert [e.get("milestone") for e in await tracking.milestone_events(order_no)].count("in_transit") == 1


async def test_another_buyer_sees_no_shipment(tracking: Tracking) -> None:
    order_no, _, _ = await tracking.shipped_order()
    _, stranger = await make_user(tracking.parties.ctx, Role.BUYER)
    answer = await tracking.parties.platform.get(
        f"/api/v1/orders/{order_no}/shipment", headers={"authorization": f"Bearer {stranger}"}
    )
    assert answer.status_code == 404 and answer.json()["code"] == "order_not_found"


async def test_customs_refuses_a_delivery_of_a_waybill_it_does_not_know(tracking: Tracking) -> None:
    carrier = tracking.carrier_settings
    sender = Sender(carrier.customs_code, carrier.customs_name, "DXPTRACKTEST0001")
    message = delivery_message(
        DeliveryDeclaration(
            Enterprise(carrier.customs_code, carrier.customs_name), "NOSUCHWAYBILL", datetime.now(UTC)
        ),
        sender,
    )
    taken = await tracking.parties.customs.post("/dxp/messages", content=message)
    assert taken.status_code == 202 and taken.json()["kind"] == "CEB513"
    page = (await tracking.parties.customs.get("/dxp/inbox/DXPTRACKTEST0001")).json()
    [receipt] = parse_receipts(page["items"][0]["message"].encode())
    assert receipt.return_status == 100 and "NOSUCHWAYBILL" in receipt.return_info
    broken = message.replace(b"<ceb:logisticsStatus>S<", b"<ceb:logisticsStatus>X1<")
    assert (await tracking.parties.customs.post("/dxp/messages", content=broken)).status_code == 202
    page = (await tracking.parties.customs.get("/dxp/inbox/DXPTRACKTEST0001")).json()
    [refused] = parse_receipts(page["items"][1]["message"].encode())
    assert refused.return_status == -1 and "schema" in refused.return_info


async def test_the_order_page_shows_carrier_waybill_and_timeline_in_both_languages(
    tracking: Tracking,
) -> None:
    order_no, logistics_no, _ = await tracking.shipped_order()
    chinese = await tracking.order_page(order_no, "zh-CN")
    assert (
        "物流跟踪" in chinese
        and logistics_no in chinese
        and tracking.carrier_settings.customs_name in chinese
    )
    assert "海关已放行" in chinese and "已交承运商" in chinese
    assert re.findall(r'data-milestone="(\w+)"', chinese) == JOURNEY
    done = re.findall(r'class="timeline-step is-done" data-milestone="(\w+)"', chinese)
    assert done == JOURNEY[:4]
    assert (await tracking.scan(logistics_no, "in_transit")).status_code == 200
    assert (await tracking.scan(logistics_no, "delivered")).status_code == 200

    async def delivered_page() -> str:
        page = await tracking.order_page(order_no, "en")
        return page if 'class="timeline-step is-done" data-milestone="delivered"' in page else ""

    english = await eventually(delivered_page, what="the delivery on the order page")
    assert "Waybill number" in english and "Handed to the carrier" in english and "Delivered" in english
