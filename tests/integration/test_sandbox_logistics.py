"""The sandbox carrier, driven from the platform's side through :class:`HttpLogisticsProvider`, with a
stand-in single window that records every CEB511 it is sent. Every CEB511 is checked against customs'
official schema."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from lxml import etree
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from flashport.adapters.customs.gateway import HttpCustomsGateway
from flashport.adapters.logistics import (
    HttpLogisticsProvider,
    LogisticsRefused,
    WaybillRequest,
)
from flashport.ceb import Consignee, Enterprise, parse_receipt, validate
from flashport.ceb.codes import TradeMode
from flashport.sandbox_customs import CustomsSimSettings, create_customs_app
from flashport.sandbox_logistics import LogisticsSimSettings, create_logistics_app
from tests.servers import serving
from tests.waiting import eventually

CEB = "{http://www.chinaport.gov.cn/ceb}"
PLATFORM = Enterprise("3100000FP1", "Flashport Cross-border E-commerce Co., Ltd.")
CONSIGNEE = Consignee("李娜", "13800138000", "上海市浦东新区世纪大道100号")
CARRIER_URL = "http://sandbox-logistics"


@dataclass
class SingleWindow:
    """Answers ``POST /dxp/messages`` with 202 and keeps the bodies; unreachable while ``up`` is false."""

    up: bool = True
    status: int = 202
    received: list[bytes] = field(default_factory=list)
    tries: int = 0  # every request made to it, answered or not

    async def tried_again(self, times: int) -> None:
        """Wait until the carrier has tried ``times`` more requests: its resending rounds have run."""
        wanted = self.tries + times

        async def tried() -> bool:
            return self.tries >= wanted

        await eventually(tried, what=f"{times} more tries at the single window")

    async def take(self, request: Request) -> Response:
        self.received.append(await request.body())
        if self.status == 202:
            return Response(status_code=202)
        return JSONResponse({"code": "not_a_ceb_message", "message": "refused"}, self.status)

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/dxp/messages", self.take, methods=["POST"])])

    def transport(self) -> httpx.AsyncBaseTransport:
        return _Switched(self)


class _Switched(httpx.AsyncBaseTransport):
    def __init__(self, window: SingleWindow) -> None:
        self._window = window
        self._inner = httpx.ASGITransport(app=window.app())

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self._window.tries += 1
        if not self._window.up:
            raise httpx.ConnectError("single window down", request=request)
        return await self._inner.handle_async_request(request)


@dataclass
class World:
    carrier: HttpLogisticsProvider
    window: SingleWindow
    settings: LogisticsSimSettings
    http: httpx.AsyncClient  # the same app, without the provider in between
    app: Starlette

    async def post(self, path: str, body: Any = None, *, key: str | None = None) -> httpx.Response:
        headers = {"authorization": f"Bearer {key or self.settings.api_key}"}
        return await self.http.post(path, json=body, headers=headers)

    async def plant(self, order_no: str, fault: str | None) -> None:
        answer = await self.post("/sandbox/faults", {"order_no": order_no, "fault": fault})
        assert answer.status_code == 200, answer.text


@contextlib.asynccontextmanager
async def world(
    data_dir: Path, *, retry_seconds: float = 0.05, window: SingleWindow | None = None, **batching: Any
) -> AsyncIterator[World]:
    window = window or SingleWindow()
    settings = LogisticsSimSettings(
        data_dir=data_dir, customs_url="http://single-window", declare_retry_seconds=retry_seconds, **batching
    )
    app = create_logistics_app(settings, customs_transport=window.transport())
    async with app.router.lifespan_context(app), contextlib.AsyncExitStack() as stack:
        transport = httpx.ASGITransport(app=app)
        carrier = HttpLogisticsProvider(CARRIER_URL, settings.api_key, transport=transport)
        stack.push_async_callback(carrier.close)
        http = await stack.enter_async_context(httpx.AsyncClient(base_url=CARRIER_URL, transport=transport))
        yield World(carrier, window, settings, http, app)


def parcel(order_no: str, trade_mode: TradeMode = TradeMode.BONDED_IMPORT, **changes: Any) -> WaybillRequest:
    values: dict[str, Any] = {
        "order_no": order_no,
        "platform": PLATFORM,
        "trade_mode": trade_mode,
        "consignee": CONSIGNEE,
        "weight_kg": Decimal("1.250"),
        "goods_info": "婴儿配方奶粉 900g x2",
        "freight_fen": 1200,
        "insured_fee_fen": 0,
        **changes,
    }
    return WaybillRequest(**values)


def head(message: bytes) -> dict[str, str]:
    """The LogisticsHead of a CEB511, element name -> text, after checking it against the XSD."""
    assert validate(message) == []
    root = etree.fromstring(message)
    assert root.tag == f"{CEB}CEB511Message"
    node = root.find(f"{CEB}Logistics/{CEB}LogisticsHead")
    return {etree.QName(child).localname: child.text or "" for child in node}


def dxp_id_of(message: bytes) -> str | None:
    found: str | None = etree.fromstring(message).findtext(f"{CEB}BaseTransfer/{CEB}dxpId")
    return found


async def test_a_bonded_waybill_is_declared_to_customs_with_a_valid_ceb511(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        waybill = await w.carrier.create_waybill(parcel("FP-1210-1"))

        assert re.fullmatch(r"SL\d{12}", waybill.logistics_no)
        assert (waybill.logistics_code, waybill.logistics_name) == (
            "3100000SL1",
            "Flashport Sandbox Logistics Co., Ltd.",
        )
        assert (waybill.bill_no, waybill.traf_no, waybill.voyage_no) == (None, None, None)
        assert waybill.status == "created" and waybill.declared
        assert w.window.received == [waybill.message]
        sent = head(w.window.received[0])
        assert sent["appType"] == "1" and sent["appStatus"] == "2"
        assert sent["logisticsNo"] == waybill.logistics_no and sent["orderNo"] == "FP-1210-1"
        assert (sent["consignee"], sent["consigneeTelephone"], sent["consigneeAddress"]) == (
            CONSIGNEE.name,
            CONSIGNEE.telephone,
            CONSIGNEE.address,
        )
        assert (sent["weight"], sent["freight"], sent["packNo"]) == ("1.25", "12.00", "1")
        assert "billNo" not in sent
        assert dxp_id_of(w.window.received[0]) == "DXPENT0000000003"


async def test_a_direct_import_waybill_names_the_flight_and_the_master_air_waybill(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        waybill = await w.carrier.create_waybill(parcel("FP-9610-1", TradeMode.DIRECT_IMPORT))

        assert waybill.traf_no and waybill.voyage_no and waybill.bill_no
        found = re.fullmatch(r"784-(\d{7})(\d)", waybill.bill_no)
        assert found and int(found.group(1)) % 7 == int(found.group(2))  # IATA check digit
        sent = head(w.window.received[0])
        assert sent["billNo"] == waybill.bill_no and sent["logisticsNo"] == waybill.logistics_no
        second = await w.carrier.create_waybill(parcel("FP-9610-2", TradeMode.DIRECT_IMPORT))
        assert second.logistics_no != waybill.logistics_no
        assert second.bill_no == waybill.bill_no  # one flight a day, consolidated under one master


async def test_the_same_order_gets_the_same_waybill_and_one_declaration(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        body = {
            "order_no": "FP-SAME",
            "platform_code": PLATFORM.code,
            "platform_name": PLATFORM.name,
            "trade_mode": "1210",
            "consignee": {"name": "王芳", "telephone": "13900139000", "address": "北京市朝阳区建国路1号"},
            "weight_kg": "0.5",
            "freight_fen": 0,
            "insured_fee_fen": 0,
        }
        first, again = await w.post("/v1/waybills", body), await w.post("/v1/waybills", body)
        through_provider = await w.carrier.create_waybill(parcel("FP-SAME"))

        assert (first.status_code, again.status_code) == (201, 200)
        assert first.json()["logistics_no"] == again.json()["logistics_no"] == through_provider.logistics_no
        assert len(w.window.received) == 1


async def test_requests_without_the_platforms_key_are_refused(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        bare = await w.http.get("/v1/waybills/SL000000000000")
        wrong = await w.post("/sandbox/faults", {"order_no": "FP-X", "fault": None}, key="guess")

        assert bare.status_code == wrong.status_code == 401
        assert bare.headers["www-authenticate"] == "Bearer"
        assert bare.json()["code"] == wrong.json()["code"] == "unauthorized"


async def test_the_provider_reports_a_wrong_key_and_an_unknown_waybill_as_refusals(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        stranger = HttpLogisticsProvider(CARRIER_URL, "guess", transport=httpx.ASGITransport(app=w.app))
        with pytest.raises(LogisticsRefused) as refused:
            await stranger.create_waybill(parcel("FP-KEY"))
        await stranger.close()
        with pytest.raises(LogisticsRefused) as unknown:
            await w.carrier.dispatch("SL999999999999")

        assert refused.value.code == "unauthorized"
        assert unknown.value.code == "waybill_not_found"
        assert w.window.received == []


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"weight_kg": 1.25}, "weight_kg"),  # a float: refused, weights are decimal strings
        ({"weight_kg": "0"}, "weight_kg"),
        ({"weight_kg": "1.123456"}, "weight_kg"),  # customs takes five decimals at most
        ({"freight_fen": -1}, "freight_fen"),
        ({"freight_fen": 12.5}, "freight_fen"),
        ({"trade_mode": "0110"}, "trade_mode"),
        ({"consignee": {"name": "王芳", "telephone": "1" * 51, "address": "x"}}, "consignee.telephone"),
        ({"consignee": None}, "consignee"),
        ({"order_no": ""}, "order_no"),
        ({"surprise": True}, "surprise"),
    ],
)
async def test_a_body_customs_could_not_take_is_refused_with_422(
    tmp_path: Path, change: dict[str, Any], field: str
) -> None:
    body = {
        "order_no": "FP-BAD",
        "platform_code": PLATFORM.code,
        "platform_name": PLATFORM.name,
        "trade_mode": "9610",
        "consignee": {"name": "王芳", "telephone": "13900139000", "address": "北京市朝阳区建国路1号"},
        "weight_kg": "0.5",
        "freight_fen": 0,
        **change,
    }
    async with world(tmp_path) as w:
        answer = await w.post("/v1/waybills", body)
        not_json = await w.http.post(
            "/v1/waybills", content=b"{", headers={"authorization": f"Bearer {w.settings.api_key}"}
        )

        assert answer.status_code == 422, answer.text
        assert answer.json()["code"] == "invalid_request" and field in answer.json()["message"]
        assert not_json.status_code == 422 and not_json.json()["code"] == "invalid_request"
        assert w.window.received == []


async def test_a_correction_is_declared_as_a_change(tmp_path: Path) -> None:
    moved = Consignee("李娜", "13800138001", "上海市徐汇区漕溪北路88号")
    async with world(tmp_path) as w:
        waybill = await w.carrier.create_waybill(parcel("FP-FIX"))
        corrected = await w.carrier.redeclare(waybill.logistics_no, moved)
        heavier = await w.carrier.redeclare(waybill.logistics_no, None, weight_kg=Decimal("1.4"))

        assert corrected.declared and corrected.logistics_no == waybill.logistics_no
        change, weight_change = head(w.window.received[1]), head(w.window.received[2])
        assert change["appType"] == weight_change["appType"] == "2"
        assert (change["consigneeTelephone"], change["consigneeAddress"]) == (moved.telephone, moved.address)
        assert change["weight"] == "1.25" and weight_change["weight"] == "1.4"
        assert weight_change["consigneeTelephone"] == moved.telephone  # the correction was kept
        assert heavier.message == w.window.received[2]


async def test_cancelling_withdraws_the_waybill_from_customs_once(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        waybill = await w.carrier.create_waybill(parcel("FP-CANCEL", TradeMode.DIRECT_IMPORT))
        cancelled = await w.carrier.cancel(waybill.logistics_no)
        again = await w.carrier.cancel(waybill.logistics_no)

        assert cancelled.status == again.status == "cancelled"
        assert len(w.window.received) == 2
        withdrawal = head(w.window.received[1])
        assert withdrawal["appType"] == "3" and withdrawal["logisticsNo"] == waybill.logistics_no
        for refused_call in (
            w.carrier.dispatch(waybill.logistics_no),
            w.carrier.redeclare(waybill.logistics_no, CONSIGNEE),
        ):
            with pytest.raises(LogisticsRefused) as refused:
                await refused_call
            assert refused.value.code == "waybill_cancelled"


async def test_dispatch_puts_the_parcel_in_transit_once(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        waybill = await w.carrier.create_waybill(parcel("FP-GO"))
        first = await w.carrier.dispatch(waybill.logistics_no)
        second = await w.carrier.dispatch(waybill.logistics_no)
        shown = (await w.http.get(f"/v1/waybills/{waybill.logistics_no}", headers=_key(w))).json()
        with pytest.raises(LogisticsRefused) as refused:
            await w.carrier.cancel(waybill.logistics_no)

        assert first.status == second.status == "in_transit"
        assert [event["status"] for event in shown["events"]] == ["created", "in_transit"]
        assert refused.value.code == "waybill_in_transit"
        assert len(w.window.received) == 1  # handing over a parcel declares nothing


async def test_a_waybill_made_while_customs_is_down_is_declared_once_it_is_back(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        w.window.up = False
        waybill = await w.carrier.create_waybill(parcel("FP-DOWN"))
        corrected = await w.carrier.redeclare(waybill.logistics_no, None, weight_kg=Decimal("2"))
        await w.window.tried_again(4)  # a few resending rounds, all failing
        assert not waybill.declared and not corrected.declared and waybill.message is not None
        assert w.window.received == []

        w.window.up = True

        async def declared() -> bool:
            return (await w.carrier.waybill(waybill.logistics_no)).declared

        await eventually(declared)
        assert [head(message)["appType"] for message in w.window.received] == ["1", "2"]  # in order
        assert w.window.received == [waybill.message, corrected.message]
        shown = (await w.http.get(f"/v1/waybills/{waybill.logistics_no}", headers=_key(w))).json()
        assert shown["declared_at"] is not None and shown["declaration"]["state"] == "sent"


async def test_declarations_queued_before_a_restart_are_sent_after_it(tmp_path: Path) -> None:
    window = SingleWindow(up=False)
    async with world(tmp_path, window=window) as w:
        waybill = await w.carrier.create_waybill(parcel("FP-RESTART"))
    window.up = True
    async with world(tmp_path, window=window) as w:

        async def declared() -> bool:
            return (await w.carrier.waybill(waybill.logistics_no)).declared

        await eventually(declared)

    assert window.received == [waybill.message]


async def test_a_message_the_single_window_refuses_is_not_sent_again(tmp_path: Path) -> None:
    async with world(tmp_path, window=SingleWindow(status=400)) as w:
        waybill = await w.carrier.create_waybill(parcel("FP-REFUSED"))
        # A second waybill, made while the window is unreachable, stays pending: once it has been tried
        # again a few times, resending rounds have run, and none of them may send the refused one again.
        w.window.up = False
        await w.carrier.create_waybill(parcel("FP-PENDING"))
        await w.window.tried_again(3)
        shown = (await w.http.get(f"/v1/waybills/{waybill.logistics_no}", headers=_key(w))).json()

        assert not waybill.declared and len(w.window.received) == 1
        assert shown["declaration"]["state"] == "refused"
        assert "not_a_ceb_message" in shown["declaration"]["last_error"]


async def test_asking_again_for_the_waybill_resends_its_pending_declaration(tmp_path: Path) -> None:
    async with world(tmp_path, retry_seconds=3600) as w:  # the background round will not come
        w.window.up = False
        waybill = await w.carrier.create_waybill(parcel("FP-AGAIN"))
        w.window.up = True
        again = await w.carrier.create_waybill(parcel("FP-AGAIN"))

        assert not waybill.declared and again.declared
        assert again.logistics_no == waybill.logistics_no
        assert w.window.received == [waybill.message]


async def test_a_consignee_fault_changes_the_telephone_of_the_next_ceb511_only(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        await w.plant("FP-FAULT-C", "consignee")
        waybill = await w.carrier.create_waybill(parcel("FP-FAULT-C"))
        fixed = await w.carrier.redeclare(waybill.logistics_no, None)

        faulty, honest = head(w.window.received[0]), head(w.window.received[1])
        assert faulty["consigneeTelephone"] != CONSIGNEE.telephone
        assert len(faulty["consigneeTelephone"]) == len(CONSIGNEE.telephone)
        assert (faulty["consignee"], faulty["logisticsNo"]) == (CONSIGNEE.name, waybill.logistics_no)
        assert honest["consigneeTelephone"] == CONSIGNEE.telephone
        assert fixed.message == w.window.received[1]


async def test_a_waybill_number_fault_declares_another_logistics_no(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        await w.plant("FP-FAULT-N", "waybill_number")
        waybill = await w.carrier.create_waybill(parcel("FP-FAULT-N", TradeMode.DIRECT_IMPORT))

        sent = head(w.window.received[0])
        assert sent["logisticsNo"] != waybill.logistics_no
        assert re.fullmatch(r"SL\d{12}", sent["logisticsNo"])
        assert (sent["orderNo"], sent["consigneeTelephone"]) == ("FP-FAULT-N", CONSIGNEE.telephone)


async def test_a_cleared_fault_is_not_planted(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        await w.plant("FP-FAULT-0", "consignee")
        await w.plant("FP-FAULT-0", None)
        unknown = await w.post("/sandbox/faults", {"order_no": "FP-FAULT-0", "fault": "weather"})
        waybill = await w.carrier.create_waybill(parcel("FP-FAULT-0"))

        assert unknown.status_code == 422
        assert head(w.window.received[0])["consigneeTelephone"] == CONSIGNEE.telephone
        assert waybill.declared


async def test_the_carrier_reaches_the_single_window_at_its_configured_url(tmp_path: Path) -> None:
    window = SingleWindow()
    async with serving(window.app()) as customs_url:
        settings = LogisticsSimSettings(data_dir=tmp_path, customs_url=customs_url)
        app = create_logistics_app(settings)
        async with app.router.lifespan_context(app):
            carrier = HttpLogisticsProvider(
                CARRIER_URL, settings.api_key, transport=httpx.ASGITransport(app=app)
            )
            waybill = await carrier.create_waybill(parcel("FP-WIRE"))
            await carrier.close()

    assert waybill.declared and window.received == [waybill.message]
    assert (tmp_path / "sandbox-logistics" / "waybills.sqlite3").is_file()


def _key(w: World) -> dict[str, str]:
    return {"authorization": f"Bearer {w.settings.api_key}"}


async def test_the_customs_simulator_accepts_the_waybill_into_its_system(tmp_path: Path) -> None:
    customs = create_customs_app(CustomsSimSettings(data_dir=tmp_path))
    settings = LogisticsSimSettings(data_dir=tmp_path, customs_url="http://customs-sim")
    app = create_logistics_app(settings, customs_transport=httpx.ASGITransport(app=customs))
    inbox = HttpCustomsGateway("http://customs-sim", transport=httpx.ASGITransport(app=customs))
    async with customs.router.lifespan_context(customs), app.router.lifespan_context(app):
        carrier = HttpLogisticsProvider(CARRIER_URL, settings.api_key, transport=httpx.ASGITransport(app=app))
        waybill = await carrier.create_waybill(parcel("FP-CUSTOMS", TradeMode.DIRECT_IMPORT))
        items = await inbox.fetch("DXPENT0000000003", after=0)
        await carrier.close()
        await inbox.close()

    assert waybill.declared
    assert [item.kind for item in items] == ["CEB512"]
    receipt = parse_receipt(items[0].message)
    assert receipt.return_status == 120, receipt.return_info
    assert receipt.business_keys == {"logisticsCode": "3100000SL1", "logisticsNo": waybill.logistics_no}


async def test_waybills_asked_for_at_once_are_declared_together_in_one_ceb511(tmp_path: Path) -> None:
    # A batch of five closes when the fifth arrives; the long window only keeps a slow machine from
    # closing it earlier.
    async with world(tmp_path, customs_batch_size=5, customs_batch_window_ms=3000) as w:
        made = await asyncio.gather(*(w.carrier.create_waybill(parcel(f"FP-BATCH-{n}")) for n in range(5)))
        assert all(waybill.declared for waybill in made)
        (message,) = w.window.received
        assert validate(message) == []
        root = etree.fromstring(message)
        heads = root.findall(f"{CEB}Logistics/{CEB}LogisticsHead")
        numbers = [h.findtext(f"{CEB}logisticsNo") for h in heads]
        assert sorted(numbers) == sorted(waybill.logistics_no for waybill in made)
        # Each waybill's own document, head guid included, went in it as it was made.
        for waybill in made:
            assert waybill.message is not None
            own = etree.fromstring(waybill.message).find(f"{CEB}Logistics/{CEB}LogisticsHead")
            assert own.findtext(f"{CEB}guid") in {h.findtext(f"{CEB}guid") for h in heads}
