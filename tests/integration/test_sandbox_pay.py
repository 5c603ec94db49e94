"""Sandbox Pay over real HTTP on loopback ports, checked from the merchant's side with the third-party
python-alipay-sdk (and with our own alipay_protocol): what a real Alipay client sees is what it gets."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import re
import stat
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from alipay import AliPay
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Mount, Route

from flashport.adapters.payments import alipay_protocol as proto
from flashport.sandbox_pay import SandboxKeys, SandboxSettings, create_sandbox_app, ensure_keys
from tests.clocks import ShiftedClock
from tests.servers import serving
from tests.waiting import HTTP_TIMEOUT, eventually

APP_ID = "2026000000000001"
SCHEDULE = [0.2, 0.4, 0.8]
PAYER = ("王芳", "310115199208150029")
OTHER = ("张伟", "11010519491231002X")
# What Alipay documents for the asynchronous notification of page pay (trade_status_sync): nothing
# about who paid beyond the Alipay account (buyer_id / buyer_logon_id).
ALIPAY_NOTIFICATION_FIELDS = frozenset(
    [
        "notify_time",
        "notify_type",
        "notify_id",
        "app_id",
        "auth_app_id",
        "charset",
        "version",
        "sign_type",
        "sign",
        "trade_no",
        "out_trade_no",
        "out_biz_no",
        "buyer_id",
        "buyer_logon_id",
        "seller_id",
        "seller_email",
        "trade_status",
        "total_amount",
        "receipt_amount",
        "invoice_amount",
        "buyer_pay_amount",
        "point_amount",
        "refund_fee",
        "subject",
        "body",
        "gmt_create",
        "gmt_payment",
        "gmt_refund",
        "gmt_close",
        "fund_bill_list",
        "passback_params",
        "voucher_detail_list",
    ]
)


def specified(person: tuple[str, str], check: str = "T") -> dict[str, str]:
    """``ext_user_info`` naming ``person`` as the only one who may pay."""
    return {"name": person[0], "cert_type": "IDENTITY_CARD", "cert_no": person[1], "need_check_info": check}


@dataclass
class Receiver:
    """The merchant's notify URL: records every notification and answers from a script (the last
    answer repeats)."""

    answers: list[tuple[int, str]] = field(default_factory=lambda: [(200, "success")])
    received: list[tuple[float, dict[str, str]]] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def notify(self, request: Request) -> Response:
        form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
        self.received.append((asyncio.get_running_loop().time(), form))
        self.arrived.set()
        status, body = self.answers[min(len(self.received), len(self.answers)) - 1]
        return PlainTextResponse(body, status)

    async def wait_for(self, count: int) -> list[dict[str, str]]:
        async with asyncio.timeout(5):
            while len(self.received) < count:
                self.arrived.clear()
                await self.arrived.wait()
        return [form for _, form in self.received]

    def gaps(self) -> list[float]:
        times = [at for at, _ in self.received]
        return [later - earlier for earlier, later in itertools.pairwise(times)]


@dataclass
class World:
    sandbox: str
    merchant: str
    receiver: Receiver
    keys: SandboxKeys
    http: httpx.AsyncClient
    clock: ShiftedClock  # the sandbox's "now"

    def sdk(self, private_key: str | None = None) -> AliPay:
        """The third-party client as the merchant: our demo merchant key, the sandbox's public key."""
        return AliPay(
            appid=APP_ID,
            app_notify_url=None,
            app_private_key_string=private_key or self.keys.merchant_private,
            alipay_public_key_string=self.keys.provider_public,
            sign_type="RSA2",
        )

    async def open_page(self, out_trade_no: str, amount: str = "99.00", **extra: Any) -> httpx.Response:
        query = self.sdk().api_alipay_trade_page_pay(
            subject="a2 Platinum infant formula 900g",
            out_trade_no=out_trade_no,
            total_amount=amount,
            notify_url=f"{self.merchant}/notify",
            return_url=f"{self.merchant}/return?channel=web",
            **extra,
        )
        return await self.http.get(f"{self.sandbox}/gateway.do?{query}")

    async def api(self, method: str, biz: dict[str, Any], *, post: bool = False) -> str:
        sdk = self.sdk()
        signed = sdk.sign_data(sdk.build_body(method, biz))
        if post:
            headers = {"content-type": "application/x-www-form-urlencoded"}
            answer = await self.http.post(f"{self.sandbox}/gateway.do", content=signed, headers=headers)
        else:
            answer = await self.http.get(f"{self.sandbox}/gateway.do?{signed}")
        assert answer.headers["content-type"] == "application/json; charset=utf-8"
        return answer.text

    async def node(self, method: str, biz: dict[str, Any], *, post: bool = False) -> dict[str, Any]:
        """The response node, after the SDK checked the sandbox's signature over it."""
        raw = await self.api(method, biz, post=post)
        node: dict[str, Any] = self.sdk()._verify_and_return_sync_response(
            raw, proto.response_node_name(method)
        )
        return node

    async def pay(self, out_trade_no: str, *, notify: bool = True) -> httpx.Response:
        body = {"payer_name": PAYER[0], "payer_id_number": PAYER[1], "notify": notify}
        return await self.http.post(f"{self.sandbox}/sandbox/trades/{out_trade_no}/pay", json=body)

    async def view(self, out_trade_no: str) -> dict[str, Any]:
        view: dict[str, Any] = (await self.http.get(f"{self.sandbox}/sandbox/trades/{out_trade_no}")).json()
        return view

    async def settled_delivery(self, out_trade_no: str) -> dict[str, Any]:
        """The trade's one delivery, once the sandbox has nothing more to send for it: acknowledged, or
        given up at the end of the schedule. From then on no further attempt can come."""

        async def settled() -> dict[str, Any] | None:
            [delivery] = (await self.view(out_trade_no))["deliveries"] or [None]
            return delivery if delivery and delivery["attempts"] and not delivery["next_attempt_at"] else None

        return await eventually(settled, what=f"the delivery for {out_trade_no} to settle")


def settings_for(data_dir: Path) -> SandboxSettings:
    return SandboxSettings(data_dir=data_dir, notify_schedule=SCHEDULE, notify_timeout_seconds=1.0)


@contextlib.asynccontextmanager
async def world(
    data_dir: Path, receiver: Receiver | None = None, merchant: str | None = None
) -> AsyncIterator[World]:
    """A running sandbox and a merchant receiving its notifications (``merchant``: one already running)."""
    receiver = receiver or Receiver()
    merchant_app = Starlette(routes=[Route("/notify", receiver.notify, methods=["POST"])])
    async with contextlib.AsyncExitStack() as stack:
        if merchant is None:
            merchant = await stack.enter_async_context(serving(merchant_app))
        clock = ShiftedClock()
        sandbox_app = create_sandbox_app(settings_for(data_dir), clock=clock)
        sandbox = await stack.enter_async_context(serving(sandbox_app))
        http = await stack.enter_async_context(httpx.AsyncClient(trust_env=False, timeout=5))
        yield World(sandbox, merchant, receiver, ensure_keys(data_dir), http, clock)


def trade_no_on(page: str) -> str:
    found = re.search(r"/pay/(\d{28})/confirm", page)
    assert found, page
    return found.group(1)


def without_sign(form: dict[str, str]) -> tuple[dict[str, str], str]:
    data = dict(form)
    return data, data.pop("sign")


async def test_the_payment_page_shows_the_trade_requested_with_the_sdk(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        page = await w.open_page("FP-PAGE-1")
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        html = page.text
        for expected in (
            "a2 Platinum infant formula 900g",
            "¥99.00",
            "FP-PAGE-1",
            "李娜",
            "110105199003070025",
        ):
            assert expected in html
        assert '<label for="payer_name">' in html and '<label for="payer_id_number">' in html
        assert ">Confirm payment</button>" in html and ">Decline</button>" in html
        assert not re.search(r"<script|<link|src=|href=|url\(", html)  # self-contained: nothing fetched

        again = await w.open_page("FP-PAGE-1")
        assert trade_no_on(again.text) == trade_no_on(html)
        other_amount = await w.open_page("FP-PAGE-1", amount="98.00")
        assert other_amount.status_code == 400
        assert "another amount" in other_amount.text


async def test_a_request_signed_with_another_key_is_refused(tmp_path: Path) -> None:
    stranger = proto.generate_keypair()[0]
    async with world(tmp_path) as w:
        query = w.sdk(stranger).api_alipay_trade_page_pay(
            subject="x", out_trade_no="FP-BAD", total_amount="1.00"
        )
        page = await w.http.get(f"{w.sandbox}/gateway.do?{query}")
        assert page.status_code == 400
        assert 'role="alert"' in page.text

        signed = w.sdk(stranger).sign_data(
            w.sdk(stranger).build_body("alipay.trade.query", {"out_trade_no": "x"})
        )
        raw = (await w.http.get(f"{w.sandbox}/gateway.do?{signed}")).text
        node = proto.verify_response(raw, "alipay.trade.query", proto.load_public_key(w.keys.provider_public))
        assert node is not None
        assert (node["code"], node["sub_code"]) == ("40002", "isv.invalid-signature")

        tampered = dict(
            parse_qsl(w.sdk().sign_data(w.sdk().build_body("alipay.trade.query", {"trade_no": "1"})))
        )
        tampered["app_id"] = "2026999999999999"
        raw = (await w.http.post(f"{w.sandbox}/gateway.do", data=tampered)).text
        assert json.loads(raw)["alipay_trade_query_response"]["sub_code"] == "isv.invalid-app-id"


async def test_confirming_sends_the_buyer_back_and_a_signed_notification_the_sdk_accepts(
    tmp_path: Path,
) -> None:
    async with world(tmp_path) as w:
        trade_no = trade_no_on((await w.open_page("FP-PAY-1")).text)
        answer = await w.http.post(
            f"{w.sandbox}/pay/{trade_no}/confirm", data={"payer_name": PAYER[0], "payer_id_number": PAYER[1]}
        )
        assert answer.status_code == 303
        location = urlsplit(answer.headers["location"])
        assert f"{location.scheme}://{location.netloc}{location.path}" == f"{w.merchant}/return"
        returned = dict(parse_qsl(location.query))
        assert returned.pop("channel") == "web"
        assert returned["method"] == "alipay.trade.page.pay.return" and returned["trade_no"] == trade_no
        assert w.sdk().verify(*without_sign(returned))

        [notification] = await w.receiver.wait_for(1)
        assert w.sdk().verify(*without_sign(notification))
        assert proto.verify_notification(notification, proto.load_public_key(w.keys.provider_public))
        assert notification["trade_status"] == "TRADE_SUCCESS"
        assert (notification["out_trade_no"], notification["trade_no"]) == ("FP-PAY-1", trade_no)
        assert notification["total_amount"] == notification["buyer_pay_amount"] == "99.00"
        assert set(notification) <= ALIPAY_NOTIFICATION_FIELDS  # no payer_name, no payer_cert_no
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", notification["gmt_payment"])
        assert notification["buyer_id"].startswith("2088") and len(notification["buyer_id"]) == 16

        already = await w.open_page("FP-PAY-1")
        assert already.status_code == 200 and "already been paid" in already.text
        await w.settled_delivery("FP-PAY-1")
        view = await w.view("FP-PAY-1")
        assert [(d["attempts"], d["last_body"]) for d in view["deliveries"]] == [(1, "success")]


async def test_a_trade_opened_for_a_specified_buyer_is_paid_by_that_buyer_only(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        page = await w.open_page("FP-SPEC-1", ext_user_info=specified(PAYER))
        assert page.status_code == 200 and "only that person can pay it" in page.text
        trade_no = trade_no_on(page.text)
        confirm = f"{w.sandbox}/pay/{trade_no}/confirm"
        refused = await w.http.post(confirm, data={"payer_name": OTHER[0], "payer_id_number": OTHER[1]})
        assert refused.status_code == 403 and 'role="alert"' in refused.text
        assert "Only the buyer named on this order can pay it" in refused.text
        same_number = await w.http.post(confirm, data={"payer_name": "王 芳", "payer_id_number": PAYER[1]})
        assert same_number.status_code == 403  # the name as on the ID card, exactly
        by_api = await w.http.post(
            f"{w.sandbox}/sandbox/trades/FP-SPEC-1/pay",
            json={"payer_name": PAYER[0], "payer_id_number": OTHER[1]},
        )
        assert by_api.status_code == 409 and by_api.json()["sub_code"] == "ACQ.PAYER_NOT_SPECIFIED_BUYER"
        assert (await w.view("FP-SPEC-1"))["status"] == "WAIT_BUYER_PAY"  # still open for its buyer
        assert w.receiver.received == []

        paid = await w.http.post(confirm, data={"payer_name": PAYER[0], "payer_id_number": PAYER[1].lower()})
        assert paid.status_code == 303
        [notification] = await w.receiver.wait_for(1)
        assert notification["trade_status"] == "TRADE_SUCCESS"
        assert set(notification) <= ALIPAY_NOTIFICATION_FIELDS


async def test_ext_user_info_is_checked_only_when_asked_and_cannot_change(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        await w.open_page("FP-SPEC-2", ext_user_info=specified(PAYER, check="F"))
        anyone = await w.http.post(
            f"{w.sandbox}/sandbox/trades/FP-SPEC-2/pay",
            json={"payer_name": OTHER[0], "payer_id_number": OTHER[1], "notify": False},
        )
        assert anyone.status_code == 200  # need_check_info F: Alipay checks nobody

        await w.open_page("FP-SPEC-3", ext_user_info=specified(PAYER))
        changed = await w.open_page("FP-SPEC-3", ext_user_info=specified(OTHER))
        assert changed.status_code == 400 and "another buyer" in changed.text
        dropped = await w.open_page("FP-SPEC-3")
        assert dropped.status_code == 400
        bad_number = await w.open_page("FP-SPEC-4", ext_user_info=specified(("王芳", "310115199208150028")))
        assert bad_number.status_code == 400 and "not a valid resident ID" in bad_number.text
        passport = await w.open_page("FP-SPEC-5", ext_user_info={**specified(PAYER), "cert_type": "PASSPORT"})
        assert passport.status_code == 400


async def test_an_invalid_payer_id_number_is_shown_on_the_page_and_nothing_is_paid(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        trade_no = trade_no_on((await w.open_page("FP-ID-1")).text)
        form = {"payer_name": PAYER[0], "payer_id_number": "310115199208150028"}
        answer = await w.http.post(f"{w.sandbox}/pay/{trade_no}/confirm", data=form)
        assert answer.status_code == 422
        assert 'role="alert"' in answer.text and "310115199208150028" in answer.text
        assert (await w.view("FP-ID-1"))["status"] == "WAIT_BUYER_PAY"


async def test_a_failing_receiver_gets_retries_at_growing_intervals_until_it_says_success(
    tmp_path: Path,
) -> None:
    receiver = Receiver(answers=[(500, "oops"), (200, "fail"), (200, " success\n")])
    async with world(tmp_path, receiver) as w:
        await w.open_page("FP-RETRY-1")
        assert (await w.pay("FP-RETRY-1")).status_code == 200
        forms = await receiver.wait_for(3)
        delivery = await w.settled_delivery("FP-RETRY-1")  # acknowledged: no fourth attempt can follow
        assert len(receiver.received) == 3
        assert len({form["notify_id"] for form in forms}) == 1
        # Each retry waits at least its own interval of the schedule (a loaded machine only adds to it).
        first, second = receiver.gaps()
        assert SCHEDULE[0] <= first and SCHEDULE[1] <= second
        assert delivery["attempts"] == 3 and delivery["delivered_at"] and delivery["next_attempt_at"] is None
        assert [a["status"] for a in delivery["attempt_log"]] == [500, 200, 200]


async def test_a_receiver_that_never_says_success_is_given_up_at_the_end_of_the_schedule(
    tmp_path: Path,
) -> None:
    receiver = Receiver(answers=[(200, "received, thanks")])
    async with world(tmp_path, receiver) as w:
        await w.open_page("FP-GIVEUP-1")
        await w.pay("FP-GIVEUP-1")
        await receiver.wait_for(1 + len(SCHEDULE))
        delivery = await w.settled_delivery("FP-GIVEUP-1")  # given up: nothing more will be sent
        assert len(receiver.received) == 1 + len(SCHEDULE)
        assert all(gap >= interval for gap, interval in zip(receiver.gaps(), SCHEDULE, strict=True))
        assert (
            delivery["attempts"] == 4
            and delivery["delivered_at"] is None
            and delivery["next_attempt_at"] is None
        )


async def test_an_unreachable_receiver_is_retried_and_every_attempt_recorded(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        query = w.sdk().api_alipay_trade_page_pay(
            subject="x", out_trade_no="FP-DOWN-1", total_amount="1.00", notify_url="http://127.0.0.1:9/notify"
        )
        await w.http.get(f"{w.sandbox}/gateway.do?{query}")
        await w.pay("FP-DOWN-1")

        async def retried() -> dict[str, Any] | None:
            [delivery] = (await w.view("FP-DOWN-1"))["deliveries"]
            return delivery if delivery["attempts"] >= 2 else None

        delivery = await eventually(retried, what="a second attempt")
        assert delivery["attempts"] >= 2 and delivery["last_status"] is None
        assert "ConnectError" in delivery["attempt_log"][0]["body"]


async def test_query_answers_a_response_the_sdk_verifies(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        trade_no = trade_no_on((await w.open_page("FP-QUERY-1")).text)
        waiting = await w.node("alipay.trade.query", {"out_trade_no": "FP-QUERY-1"})
        assert (waiting["code"], waiting["trade_status"], waiting["trade_no"]) == (
            "10000",
            "WAIT_BUYER_PAY",
            trade_no,
        )
        assert "payer_cert_no" not in waiting

        await w.pay("FP-QUERY-1", notify=False)
        paid = await w.node("alipay.trade.query", {"trade_no": trade_no}, post=True)
        assert (paid["code"], paid["msg"], paid["trade_status"]) == ("10000", "Success", "TRADE_SUCCESS")
        assert paid["total_amount"] == paid["buyer_pay_amount"] == "99.00"
        assert paid["send_pay_date"] and paid["buyer_user_id"].startswith("2088")
        assert not [name for name in paid if name.startswith("payer")]  # as Alipay: the account, no ID
        assert w.receiver.received == []

        missing = await w.node("alipay.trade.query", {"out_trade_no": "FP-NOBODY"})
        assert (missing["code"], missing["sub_code"]) == ("40004", "ACQ.TRADE_NOT_EXIST")


async def test_refunds_are_idempotent_and_never_exceed_the_amount_paid(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        await w.open_page("FP-REFUND-1")
        unpaid = await w.node("alipay.trade.refund", {"out_trade_no": "FP-REFUND-1", "refund_amount": "1.00"})
        assert unpaid["sub_code"] == "ACQ.TRADE_STATUS_ERROR"
        await w.pay("FP-REFUND-1", notify=False)

        first = {"out_trade_no": "FP-REFUND-1", "refund_amount": "30.00", "out_request_no": "R1"}
        done = await w.node("alipay.trade.refund", first, post=True)
        assert (done["code"], done["fund_change"], done["refund_fee"]) == ("10000", "Y", "30.00")
        repeat = await w.node("alipay.trade.refund", first, post=True)
        assert repeat == {**done, "fund_change": "N"}

        over = await w.node(
            "alipay.trade.refund", {**first, "refund_amount": "69.01", "out_request_no": "R2"}
        )
        assert (over["code"], over["sub_code"]) == ("40004", "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL")
        rest = await w.node("alipay.trade.refund", {**first, "refund_amount": "69", "out_request_no": "R2"})
        assert (rest["refund_fee"], rest["send_back_fee"], rest["fund_change"]) == ("99.00", "69.00", "Y")
        assert (await w.node("alipay.trade.query", {"out_trade_no": "FP-REFUND-1"}))[
            "trade_status"
        ] == "TRADE_CLOSED"
        view = await w.view("FP-REFUND-1")
        assert [r["refund_fen"] for r in view["refunds"]] == [3000, 6900] and view["refund_fee"] == "99.00"


async def test_concurrent_refunds_never_return_more_than_was_paid(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        await w.open_page("FP-RACE-1")
        await w.pay("FP-RACE-1", notify=False)
        biz = {"out_trade_no": "FP-RACE-1", "refund_amount": "30.00"}
        answers = await asyncio.gather(
            *(w.node("alipay.trade.refund", {**biz, "out_request_no": f"R{i}"}, post=True) for i in range(6))
        )
        assert sorted(a["code"] for a in answers) == ["10000"] * 3 + ["40004"] * 3
        assert sum(r["refund_fen"] for r in (await w.view("FP-RACE-1"))["refunds"]) == 9000


async def test_a_trade_past_its_time_expire_is_closed_and_cannot_be_paid(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        # time_expire is written to the second, in China's time; the sandbox's clock then moves past it.
        deadline = w.clock().astimezone(timezone(timedelta(hours=8))) + timedelta(minutes=1)
        assert (
            await w.open_page("FP-LATE-1", time_expire=deadline.strftime("%Y-%m-%d %H:%M:%S"))
        ).status_code == 200
        w.clock.advance(timedelta(minutes=2))
        assert (await w.pay("FP-LATE-1")).json()["sub_code"] == "ACQ.TRADE_HAS_CLOSE"
        assert (await w.node("alipay.trade.query", {"out_trade_no": "FP-LATE-1"}))[
            "trade_status"
        ] == "TRADE_CLOSED"
        assert w.receiver.received == []


async def test_declining_closes_the_trade_and_notifies_trade_closed(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        trade_no = trade_no_on((await w.open_page("FP-DECLINE-1")).text)
        answer = await w.http.post(f"{w.sandbox}/pay/{trade_no}/decline")
        assert answer.status_code == 303 and answer.headers["location"].startswith(f"{w.merchant}/return")
        [notification] = await w.receiver.wait_for(1)
        assert proto.verify_notification(notification, proto.load_public_key(w.keys.provider_public))
        assert w.sdk().verify(*without_sign(notification))
        assert notification["trade_status"] == "TRADE_CLOSED" and notification["gmt_close"]
        assert "gmt_payment" not in notification and "payer_cert_no" not in notification
        closed_page = await w.open_page("FP-DECLINE-1")
        assert closed_page.status_code == 409
        assert (await w.pay("FP-DECLINE-1")).status_code == 409


async def test_the_merchant_can_close_an_unpaid_trade_but_not_a_paid_one(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        await w.open_page("FP-CLOSE-1")
        closed = await w.node("alipay.trade.close", {"out_trade_no": "FP-CLOSE-1"})
        assert closed["code"] == "10000"
        assert (await w.node("alipay.trade.query", {"out_trade_no": "FP-CLOSE-1"}))[
            "trade_status"
        ] == "TRADE_CLOSED"
        await w.open_page("FP-CLOSE-2")
        await w.pay("FP-CLOSE-2")
        refused = await w.node("alipay.trade.close", {"out_trade_no": "FP-CLOSE-2"})
        assert (refused["code"], refused["sub_code"]) == ("40004", "ACQ.TRADE_STATUS_ERROR")


async def test_renotify_sends_the_same_notification_again(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        await w.open_page("FP-DUP-1")
        await w.pay("FP-DUP-1")
        [first] = await w.receiver.wait_for(1)
        assert (await w.http.post(f"{w.sandbox}/sandbox/trades/FP-DUP-1/renotify")).status_code == 200
        second = (await w.receiver.wait_for(2))[1]
        assert second == first
        nothing = await w.http.post(f"{w.sandbox}/sandbox/trades/FP-NOBODY/renotify")
        assert nothing.status_code == 404


async def test_keys_are_made_once_and_a_restart_resumes_pending_deliveries(tmp_path: Path) -> None:
    receiver = Receiver(answers=[(503, "busy")])
    merchant_app = Starlette(routes=[Route("/notify", receiver.notify, methods=["POST"])])
    async with serving(merchant_app) as merchant:
        async with world(tmp_path, receiver, merchant) as w:
            keys = w.keys
            await w.open_page("FP-RESTART-1")
            await w.pay("FP-RESTART-1")
            await receiver.wait_for(1)
        folder = tmp_path / "sandbox-pay"
        assert stat.S_IMODE((folder / "provider_private.pem").stat().st_mode) == 0o600
        assert stat.S_IMODE((folder / "merchant_private.pem").stat().st_mode) == 0o600
        assert (folder / "trades.sqlite3").exists()

        receiver.answers = [(200, "success")]
        sent_before_restart = len(receiver.received)
        async with world(tmp_path, receiver, merchant) as again:
            assert again.keys == keys == ensure_keys(tmp_path)
            forms = await receiver.wait_for(sent_before_restart + 1)
            assert forms[-1] == forms[0]
            delivery = await again.settled_delivery("FP-RESTART-1")
            assert delivery["delivered_at"] and delivery["last_body"] == "success"


async def test_mounted_under_a_prefix_the_page_posts_back_under_that_prefix(tmp_path: Path) -> None:
    sandbox = create_sandbox_app(settings_for(tmp_path))

    @contextlib.asynccontextmanager
    async def host_lifespan(_: Starlette) -> AsyncIterator[None]:
        async with sandbox.router.lifespan_context(sandbox):
            yield

    host = Starlette(routes=[Mount("/sandbox-pay", sandbox)], lifespan=host_lifespan)
    keys = ensure_keys(tmp_path)
    sdk = AliPay(
        appid=APP_ID,
        app_private_key_string=keys.merchant_private,
        alipay_public_key_string=keys.provider_public,
    )
    async with serving(host) as base, httpx.AsyncClient(timeout=HTTP_TIMEOUT, trust_env=False) as http:
        query = sdk.api_alipay_trade_page_pay(subject="x", out_trade_no="FP-MOUNT-1", total_amount="5.00")
        page = await http.get(f"{base}/sandbox-pay/gateway.do?{query}")
        action = re.search(r'action="([^"]+)"', page.text)
        assert action and action.group(1).startswith("/sandbox-pay/pay/")
        paid = await http.post(
            f"{base}{action.group(1)}", data={"payer_name": PAYER[0], "payer_id_number": PAYER[1]}
        )
        assert paid.status_code == 200 and "Paid" in paid.text


@pytest.mark.parametrize("number", ["110105199003070025", "44030419850612006x"])
def test_settings_accept_a_valid_demo_id_number(tmp_path: Path, number: str) -> None:
    assert SandboxSettings(data_dir=tmp_path, demo_payer_id_number=number.upper()).demo_payer_id_number


def test_settings_refuse_a_wrong_check_character(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="check character"):
        SandboxSettings(data_dir=tmp_path, demo_payer_id_number="110105199003070026")
