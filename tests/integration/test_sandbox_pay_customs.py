"""The payment company declares the payment to customs (CEB411), as Alipay's ``alipay.trade.customs.declare``
does: the platform's AlipayProvider asks Sandbox Pay over real HTTP on loopback ports, and a stand-in
single window records the payment vouchers that arrive (one test uses the customs simulator instead)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from alipay import AliPay
from lxml import etree
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from flashport.adapters.customs.gateway import HttpCustomsGateway
from flashport.adapters.payments.alipay import AlipayProvider
from flashport.adapters.payments.interface import (
    Buyer,
    Checkout,
    CustomsDeclarationAnswer,
    CustomsDeclarationRequest,
)
from flashport.bootstrap import payment_keys
from flashport.ceb import parse_receipt, validate
from flashport.ceb.xml import CEB_NS
from flashport.sandbox_customs import CustomsSimSettings, create_customs_app
from flashport.sandbox_pay import SandboxSettings, create_sandbox_app, ensure_keys
from flashport.sandbox_pay.identity import is_resident_id_number
from flashport.sandbox_pay.trades import CHINA_STANDARD_TIME
from flashport.settings import Settings
from tests.servers import free_port, serving

PAYER = ("王芳", "310115199208150029")
SOMEONE_ELSE = ("李娜", "110105199003070025")
PLATFORM = ("3105960FP1", "Flashport (Shanghai) Cross-border E-commerce Co., Ltd.")
SANDBOX_DXP_ID = "DXPENT0000000002"


@dataclass
class StandInWindow:
    """The single window's ``POST /dxp/messages``: keeps every body and takes it (202)."""

    received: list[bytes] = field(default_factory=list)

    async def take(self, request: Request) -> JSONResponse:
        self.received.append(await request.body())
        return JSONResponse({"taken": True}, 202)

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/dxp/messages", self.take, methods=["POST"])])


@dataclass
class Rig:
    sandbox: str
    provider: AlipayProvider
    http: httpx.AsyncClient
    window: StandInWindow
    data_dir: Path

    async def paid_trade(self, out_trade_no: str, payer: tuple[str, str] = PAYER) -> dict[str, Any]:
        """A trade opened through the platform's checkout URL for PAYER and paid by ``payer``."""
        await self.open_trade(out_trade_no)
        body = {"payer_name": payer[0], "payer_id_number": payer[1], "notify": False}
        paid = await self.http.post(f"{self.sandbox}/sandbox/trades/{out_trade_no}/pay", json=body)
        assert paid.status_code == 200, paid.text
        trade: dict[str, Any] = paid.json()
        return trade

    async def open_trade(self, out_trade_no: str, amount_fen: int = 9900) -> None:
        deadline = datetime.now(UTC) + timedelta(minutes=10)
        checkout = Checkout(out_trade_no, amount_fen, "a2 Platinum 900g", deadline, Buyer(*PAYER))
        url = self.provider.checkout_url(checkout)
        page = await self.http.get(url)
        assert page.status_code == 200, page.text

    async def trade(self, out_trade_no: str) -> dict[str, Any]:
        view: dict[str, Any] = (await self.http.get(f"{self.sandbox}/sandbox/trades/{out_trade_no}")).json()
        return view

    async def declare(
        self, trade: dict[str, Any], out_request_no: str, **changes: Any
    ) -> CustomsDeclarationAnswer:
        return await self.provider.declare_to_customs(replace(request_for(trade, out_request_no), **changes))

    async def set_fault(self, out_trade_no: str, fault: str | None) -> httpx.Response:
        url = f"{self.sandbox}/sandbox/trades/{out_trade_no}/customs-fault"
        return await self.http.post(url, json={"fault": fault})

    def sdk(self) -> AliPay:
        """The third-party client, as the merchant, pointed at the sandbox's gateway."""
        keys = ensure_keys(self.data_dir)
        client = AliPay(
            appid="2026000000000001",
            app_private_key_string=keys.merchant_private,
            alipay_public_key_string=keys.provider_public,
            sign_type="RSA2",
        )
        client._gateway = f"{self.sandbox}/gateway.do"  # the SDK knows only Alipay's own two gateways
        return client


def request_for(trade: dict[str, Any], out_request_no: str) -> CustomsDeclarationRequest:
    out_trade_no = trade["out_trade_no"]
    return CustomsDeclarationRequest(
        out_trade_no=out_trade_no,
        trade_no=trade["trade_no"],
        order_no=out_trade_no.split("-")[0],
        out_request_no=out_request_no,
        amount_fen=trade["total_fen"],
        merchant_customs_code=PLATFORM[0],
        merchant_customs_name=PLATFORM[1],
        customs_place="SHANGHAI",
        buyer_name=PAYER[0],
        buyer_id_number=PAYER[1],
    )


@contextlib.asynccontextmanager
async def rig(
    data_dir: Path, *, window: StandInWindow | None = None, customs_url: str | None = None, **batching: Any
) -> AsyncIterator[Rig]:
    """Sandbox Pay declaring to ``customs_url`` (default: a stand-in single window started here) and the
    platform's provider pointed at it."""
    window = window or StandInWindow()
    async with contextlib.AsyncExitStack() as stack:
        if customs_url is None:
            customs_url = await stack.enter_async_context(serving(window.app()))
        settings = SandboxSettings(
            data_dir=data_dir, customs_url=customs_url, customs_timeout_seconds=2.0, **batching
        )
        sandbox = await stack.enter_async_context(serving(create_sandbox_app(settings)))
        http = await stack.enter_async_context(httpx.AsyncClient(trust_env=False, timeout=10))
        platform = Settings(env="test", data_dir=data_dir, payment_gateway_url=f"{sandbox}/gateway.do")
        client = httpx.AsyncClient(trust_env=False, timeout=10)
        provider = AlipayProvider(platform, payment_keys(platform), client)
        stack.push_async_callback(provider.close)
        yield Rig(sandbox, provider, http, window, data_dir)


def head(message: bytes) -> dict[str, str]:
    """The CEB411's PaymentHead, and its sender as ``BaseTransfer.*``, element name -> text."""
    root = etree.fromstring(message)
    fields = {
        etree.QName(child).localname: child.text or "" for child in root.find(f".//{{{CEB_NS}}}PaymentHead")
    }
    for child in root.find(f"{{{CEB_NS}}}BaseTransfer"):
        fields[f"BaseTransfer.{etree.QName(child).localname}"] = child.text or ""
    return fields


def paid_at_in_china(trade: dict[str, Any]) -> str:
    return datetime.fromisoformat(trade["paid_at"]).astimezone(CHINA_STANDARD_TIME).strftime("%Y%m%d%H%M%S")


async def test_a_paid_trade_is_declared_once_with_the_payer_on_record(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        trade = await r.paid_trade("FPC1")
        answer = await r.declare(trade, "FPC1D1")
        assert answer.ok, answer.error
        assert answer.declare_no.isdigit() and len(answer.declare_no) == 20
        assert answer.identity_check is True
        assert answer.exchange.kind == "customs_declare" and answer.exchange.verified
        assert '"alipay_trade_customs_declare_response"' in answer.exchange.response

        (message,) = r.window.received
        assert validate(message) == []
        voucher = head(message)
        assert voucher["appType"] == "1" and voucher["appStatus"] == "2"
        assert (voucher["payCode"], voucher["payName"]) == ("31222699S7", "支付宝（中国）网络技术有限公司")  # noqa: RUF001
        assert voucher["payTransactionId"] == trade["trade_no"]
        assert voucher["orderNo"] == "FPC1"
        assert (voucher["ebpCode"], voucher["ebpName"]) == PLATFORM
        assert (voucher["payerIdType"], voucher["payerName"], voucher["payerIdNumber"]) == ("1", *PAYER)
        assert (voucher["amountPaid"], voucher["currency"]) == ("99.00", "142")
        assert voucher["payTime"] == paid_at_in_china(trade)
        assert (voucher["BaseTransfer.copCode"], voucher["BaseTransfer.dxpId"]) == (
            "31222699S7",
            SANDBOX_DXP_ID,
        )

        again = await r.declare(trade, "FPC1D1")
        assert again.ok and again.declare_no == answer.declare_no
        assert again.identity_check is None  # Alipay checks a declaration once; a repeat does not say
        assert len(r.window.received) == 1


async def test_the_voucher_names_who_paid_whoever_the_merchant_says_the_buyer_is(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        trade = await r.paid_trade("FPC2")
        answer = await r.declare(trade, "FPC2D1", buyer_name=SOMEONE_ELSE[0], buyer_id_number=SOMEONE_ELSE[1])
        assert answer.ok and answer.identity_check is False
        unchecked = await r.declare(trade, "FPC2D2", buyer_name=None, buyer_id_number=None)
        assert unchecked.ok and unchecked.identity_check is None
        for message in r.window.received:
            assert (head(message)["payerName"], head(message)["payerIdNumber"]) == PAYER


async def test_a_new_out_request_no_re_declares_the_order_as_a_change(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        trade = await r.paid_trade("FPC3")
        first = await r.declare(trade, "FPC3D1")
        second = await r.declare(trade, "FPC3D2")
        assert first.ok and second.ok and first.declare_no != second.declare_no
        new, change = (head(message) for message in r.window.received)
        assert (new["appType"], change["appType"]) == ("1", "2")
        assert new["guid"] != change["guid"] and change["orderNo"] == "FPC3"
        assert all(validate(message) == [] for message in r.window.received)


async def test_a_later_payment_attempt_is_declared_under_its_order_number(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        trade = await r.paid_trade("FPC4-2")
        answer = await r.declare(trade, "FPC4D1")
        assert answer.ok, answer.error
        assert '"is_split":"T"' in answer.exchange.request["biz_content"]  # sub_out_biz_no names the order
        (message,) = r.window.received
        assert head(message)["orderNo"] == "FPC4" and head(message)["amountPaid"] == "99.00"


async def test_the_payer_and_amount_faults_change_the_voucher_until_cleared(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        trade = await r.paid_trade("FPC5")
        assert (await r.set_fault("FPC5", "payer")).status_code == 200
        wrong_payer = await r.declare(trade, "FPC5D1")
        assert (
            wrong_payer.ok and wrong_payer.identity_check is False
        )  # honest: the declared payer is not the buyer
        assert (await r.set_fault("FPC5", "amount")).json()["fault"] == "amount"
        wrong_amount = await r.declare(trade, "FPC5D2")
        assert wrong_amount.ok and wrong_amount.identity_check is True
        assert (await r.set_fault("FPC5", None)).status_code == 200
        assert (await r.declare(trade, "FPC5D3")).ok

        payer_fault, amount_fault, fixed = (head(message) for message in r.window.received)
        assert payer_fault["payerName"] != PAYER[0] and payer_fault["payerIdNumber"] != PAYER[1]
        assert is_resident_id_number(payer_fault["payerIdNumber"])
        assert payer_fault["amountPaid"] == "99.00"
        assert (amount_fault["payerIdNumber"], amount_fault["amountPaid"]) == (PAYER[1], "99.01")
        assert (fixed["payerIdNumber"], fixed["amountPaid"], fixed["appType"]) == (PAYER[1], "99.00", "2")
        assert all(validate(message) == [] for message in r.window.received)

        refused = await r.set_fault("FPC5", "weather")
        assert refused.status_code == 422 and refused.json()["sub_code"] == "ACQ.INVALID_PARAMETER"
        assert (await r.set_fault("NO-SUCH-TRADE", "payer")).status_code == 404


async def test_only_a_paid_trade_not_refunded_in_full_can_be_declared(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        await r.open_trade("FPC6")
        unpaid = await r.declare(await r.trade("FPC6"), "FPC6D1")
        assert not unpaid.ok and "40004 ACQ.TRADE_STATUS_ERROR" in unpaid.error
        assert unpaid.exchange.verified  # a signed refusal, not a network failure

        paid = await r.paid_trade("FPC7")
        refund = await r.provider.refund("FPC7", paid["trade_no"], 9900, "FPC7R1", "cancelled")
        assert refund.ok
        refunded = await r.declare(paid, "FPC7D1")
        assert not refunded.ok and "ACQ.TRADE_STATUS_ERROR" in refunded.error

        other = await r.paid_trade("FPC8")
        too_little = await r.declare(other, "FPC8D1", amount_fen=9800)
        assert not too_little.ok and "ACQ.INVALID_PARAMETER" in too_little.error
        assert r.window.received == []


async def test_an_unreachable_single_window_fails_the_declaration_and_a_retry_succeeds(
    tmp_path: Path,
) -> None:
    port = free_port()
    window = StandInWindow()
    async with rig(tmp_path, window=window, customs_url=f"http://127.0.0.1:{port}") as r:
        trade = await r.paid_trade("FPC9")
        failed = await r.declare(trade, "FPC9D1")
        assert not failed.ok and "ACQ.SYSTEM_ERROR" in failed.error and "unreachable" in failed.error

        async with serving(window.app(), port=port):
            retried = await r.declare(trade, "FPC9D1")
        assert retried.ok and retried.declare_no and retried.identity_check is True
        (message,) = window.received
        assert head(message)["appType"] == "1"  # nothing reached customs before: still a new voucher


async def test_the_sandbox_accepts_the_third_party_sdk_s_signed_declaration(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        trade = await r.paid_trade("FPC10-3")
        biz = {
            "out_request_no": "FPC10D1",
            "trade_no": trade["trade_no"],
            "merchant_customs_code": PLATFORM[0],
            "merchant_customs_name": PLATFORM[1],
            "amount": "99.00",
            "customs_place": "HANGZHOU",
            "buyer_info": {"buyer_name": PAYER[0], "buyer_cert_no": PAYER[1]},
        }
        sdk = r.sdk()
        node = await asyncio.to_thread(
            sdk.server_api, "alipay.trade.customs.declare", biz
        )  # verified by the SDK
        assert node["code"] == "10000" and node["identity_check"] == "T"
        assert node["trade_no"] == node["pay_transaction_id"] == trade["trade_no"]
        assert node["pay_code"] == "31222699S7" and len(node["alipay_declare_no"]) == 20

        # The older alipay.acquire.customs passes the buyer flat; that is accepted too.
        flat = {**biz, "out_request_no": "FPC10D2", "buyer_info": None}
        flat.update(buyer_name=SOMEONE_ELSE[0], buyer_id_no=SOMEONE_ELSE[1])
        node = await asyncio.to_thread(sdk.server_api, "alipay.trade.customs.declare", flat)
        assert node["identity_check"] == "F"
        assert [head(message)["orderNo"] for message in r.window.received] == ["FPC10", "FPC10"]


async def test_the_customs_simulator_takes_the_voucher_and_its_change(tmp_path: Path) -> None:
    app = create_customs_app(CustomsSimSettings(data_dir=tmp_path))
    async with serving(app) as single_window, rig(tmp_path, customs_url=single_window) as r:
        trade = await r.paid_trade("FPC11")
        assert (await r.declare(trade, "FPC11D1")).ok
        assert (await r.declare(trade, "FPC11D2")).ok
        inbox = HttpCustomsGateway(single_window)
        try:
            items = await inbox.fetch(SANDBOX_DXP_ID, after=0)
        finally:
            await inbox.close()
        receipts = [parse_receipt(item.message) for item in items]
        assert [item.kind for item in items] == ["CEB412", "CEB412"]
        assert [receipt.is_error for receipt in receipts] == [False, False], [r.return_info for r in receipts]
        assert {receipt.business_keys["payTransactionId"] for receipt in receipts} == {trade["trade_no"]}


async def test_vouchers_asked_for_at_once_go_to_customs_together_in_one_ceb411(tmp_path: Path) -> None:
    # A batch of four closes when the fourth arrives; the long window only keeps a slow machine from
    # closing it earlier.
    async with rig(tmp_path, customs_batch_size=4, customs_batch_window_ms=3000) as r:
        trades = [await r.paid_trade(f"FPB{n}") for n in range(4)]
        answers = await asyncio.gather(*(r.declare(t, f"FPB{n}D1") for n, t in enumerate(trades)))
        assert all(a.ok and a.identity_check is True for a in answers)
        assert len({a.declare_no for a in answers}) == 4  # each request answered on its own
        (message,) = r.window.received
        assert validate(message) == []
        heads = etree.fromstring(message).findall(f"{{{CEB_NS}}}Payment/{{{CEB_NS}}}PaymentHead")
        assert sorted(h.findtext(f"{{{CEB_NS}}}orderNo") for h in heads) == [f"FPB{n}" for n in range(4)]
