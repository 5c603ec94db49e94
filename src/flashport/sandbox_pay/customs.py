"""The sandbox as a payment company declaring payments to customs: ``alipay.trade.customs.declare``.

As Alipay documents it (the open platform's ``AlipayTradeCustomsDeclareModel`` / ``...Response`` in
Alipay's own SDKs, Alipay Global's ``alipay.acquire.customs`` page and its integration FAQ; no Alipay
sandbox was called), the merchant asks Alipay to declare a paid trade, Alipay sends its payment voucher
(CEB411) to customs itself, and answers at once:

- biz_content: ``out_request_no`` (the merchant's number for one declaration: the idempotency key),
  ``trade_no``, ``merchant_customs_code``/``merchant_customs_name`` (the platform as registered with
  customs), ``amount`` (yuan), ``customs_place``; optional ``is_split`` = ``T`` with ``sub_out_biz_no``
  (the sub-order then declared instead of the trade's ``out_trade_no``), and the buyer the merchant
  knows, as ``buyer_info`` {``buyer_name``, ``buyer_cert_no``} (the older ``alipay.acquire.customs``
  passes it flat as ``buyer_name``/``buyer_id_no``; both are accepted).
- response ``alipay_trade_customs_declare_response``: ``alipay_declare_no``, ``trade_no``, ``pay_code``,
  ``pay_transaction_id``, and ``identity_check``: ``T`` when the buyer given is the payer, ``F`` when
  not; checked once per declaration, so a repeated request's answer leaves it out.

Sandbox conventions, beyond Alipay's:

- biz field ``order_no``: the order number to declare. Without it (and without a split), the trade's
  ``out_trade_no`` less a trailing ``-N`` (Flashport pays a second attempt as ``ORDERNO-2``).
- A new ``out_request_no`` for an order already declared is a re-declaration: appType 2 (change).
- Without ``is_split`` the whole payment is declared: ``amount`` must equal the amount paid.
- Faults for tests and demos (``POST /sandbox/trades/{out_trade_no}/customs-fault``, JSON
  ``{"fault": "payer" | "amount" | null}``): the trade's next vouchers name another person as the payer,
  or declare 1 fen more than was paid. ``identity_check`` compares the buyer with the payer declared.

Failure policy: customs unreachable (or answering 5xx) is ``ACQ.SYSTEM_ERROR`` and nothing is recorded,
so the merchant retries with the same ``out_request_no``. A declaration is recorded only once customs
took it; the sandbox dying between the two would send it again on the retry (at least once).
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from flashport.adapters.customs.gateway import CustomsGateway, CustomsRefused, CustomsUnavailable
from flashport.ceb import (
    AppType,
    CustomsMessageError,
    Enterprise,
    PaymentDeclaration,
    Person,
    Sender,
    payment_message,
)
from flashport.sandbox_pay import wire
from flashport.sandbox_pay.identity import check_character
from flashport.sandbox_pay.settings import SandboxSettings
from flashport.sandbox_pay.store import DeclarationRecord, TradeStore
from flashport.sandbox_pay.trades import CHINA_STANDARD_TIME, Trade, TradeStatus, fen_from_yuan, now_utc
from flashport.sandbox_pay.wire import business_error
from flashport.sandbox_support.batcher import Batcher

_ATTEMPT_SUFFIX = re.compile(r"(?P<order_no>.+)-\d+")
_ORDER_NO_LIMIT = 60  # the CEB411 orderNo
# Other people, for the payer fault (first 17 digits; the check character is computed).
_STAND_INS = (("陈静", "44030419850612003"), ("刘洋", "32010619781103004"), ("赵敏", "51010719910228005"))


class CustomsFault(StrEnum):
    PAYER = "payer"  # the voucher names another person as the payer
    AMOUNT = "amount"  # the voucher declares 1 fen more than was paid


@dataclass(frozen=True)
class DeclareRequest:
    """A parsed ``alipay.trade.customs.declare`` biz_content."""

    out_request_no: str
    platform: Enterprise
    customs_place: str  # which customs Alipay routes to; the sandbox knows one single window
    amount_fen: int
    split: bool
    order_no: str | None  # sub_out_biz_no when split, else the order_no extension; None: from the trade
    buyer: tuple[str, str] | None  # (name, ID number) as the merchant knows the buyer


class CustomsDesk:
    """Declares paid trades to customs, once per ``out_request_no``. One process only: concurrent
    requests for one trade are taken in turn by an in-memory lock (the table's unique key backs it)."""

    def __init__(self, settings: SandboxSettings, trades: TradeStore, gateway: CustomsGateway) -> None:
        self._settings = settings
        self._trades = trades
        self._gateway = gateway
        # Vouchers go to customs in batches (a CEB411 carries up to 100); each request still waits for
        # its own to be taken before it answers.
        self._batcher: Batcher[tuple[PaymentDeclaration, AppType], bytes] = Batcher(
            self._send_batch,
            size=settings.customs_batch_size,
            window=settings.customs_batch_window_ms / 1000,
            # The platform asks per order, each request signed and checked: they come a few
            # milliseconds apart, so the message stays open while they keep coming.
            max_wait=settings.customs_batch_max_wait_ms / 1000,
        )
        # A lock lives while someone holds or waits for it, then drops out of the mapping by itself.
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    async def declare(self, trade: Trade, biz: Mapping[str, str]) -> dict[str, Any]:
        """The response node for ``biz`` on ``trade``: a repeated ``out_request_no`` answers as before and
        sends nothing; otherwise the voucher goes to customs first. Raises :class:`GatewayError`."""
        request = parse_request(biz)
        order_no = request.order_no or order_no_of(trade)
        async with self._lock(trade.trade_no):
            earlier = await self._trades.declarations(trade.trade_no)
            previous = _same_request(earlier, request, order_no)
            if previous is not None:
                return self._node(trade, previous, repeated=True)
            require_declarable(trade, request)
            app_type = AppType.CHANGE if any(d.order_no == order_no for d in earlier) else AppType.NEW
            record = await self._send(trade, request, order_no, app_type)
            await self._trades.record_declaration(record)
        return self._node(trade, record, repeated=False)

    async def set_fault(self, trade: Trade, fault: CustomsFault | None) -> None:
        await self._trades.set_customs_fault(trade.trade_no, fault.value if fault else None)

    async def fault(self, trade: Trade) -> CustomsFault | None:
        stored = await self._trades.customs_fault(trade.trade_no)
        return CustomsFault(stored) if stored else None

    def _lock(self, trade_no: str) -> asyncio.Lock:
        lock = self._locks.get(trade_no)
        if lock is None:
            lock = self._locks[trade_no] = asyncio.Lock()
        return lock

    async def _send(
        self, trade: Trade, request: DeclareRequest, order_no: str, app_type: AppType
    ) -> DeclarationRecord:
        fault = await self.fault(trade)
        payer = payer_of(trade, fault)
        now = now_utc()
        try:
            message = await self._batcher.submit(
                (self._voucher(trade, request, order_no, payer, fault), app_type)
            )
        except CustomsUnavailable as exc:
            raise business_error("ACQ.SYSTEM_ERROR", f"customs is unreachable, retry later: {exc}") from exc
        except CustomsRefused as exc:
            raise business_error("ACQ.SYSTEM_ERROR", f"customs refused the payment voucher: {exc}") from exc
        except CustomsMessageError as exc:
            raise invalid(f"the payment voucher cannot be declared: {exc}") from exc
        return DeclarationRecord(
            trade_no=trade.trade_no,
            out_request_no=request.out_request_no,
            declare_no=new_declare_no(now),
            order_no=order_no,
            amount_fen=request.amount_fen,
            app_type=app_type.value,
            identity_check=identity_check(request.buyer, payer),
            message=message,
            sent_at=now,
        )

    async def _send_batch(
        self, vouchers: list[tuple[PaymentDeclaration, AppType]]
    ) -> list[bytes | Exception]:
        """One CEB411 per app type in the batch (new vouchers together, changes together); each voucher's
        result is the message it went in, or why it did not go."""
        results: list[bytes | Exception] = [RuntimeError("not sent")] * len(vouchers)
        for app_type in AppType:
            indexes = [i for i, (_, kind) in enumerate(vouchers) if kind is app_type]
            if not indexes:
                continue
            outcome: bytes | Exception
            try:
                outcome = payment_message([vouchers[i][0] for i in indexes], self._sender, app_type)
                await self._gateway.send(outcome)
            except (CustomsUnavailable, CustomsRefused, CustomsMessageError) as exc:
                outcome = exc
            for i in indexes:
                results[i] = outcome
        return results

    @property
    def _sender(self) -> Sender:
        return Sender(self._settings.customs_code, self._settings.customs_name, self._settings.dxp_id)

    def _voucher(
        self, trade: Trade, request: DeclareRequest, order_no: str, payer: Person, fault: CustomsFault | None
    ) -> PaymentDeclaration:
        assert trade.paid_at is not None  # require_declarable saw to it
        amount = request.amount_fen if request.split else trade.total_fen
        return PaymentDeclaration(
            payment_company=Enterprise(self._settings.customs_code, self._settings.customs_name),
            pay_transaction_id=trade.trade_no,
            order_no=order_no,
            platform=request.platform,
            payer=payer,
            amount_paid=amount + (1 if fault is CustomsFault.AMOUNT else 0),
            pay_time=trade.paid_at,
        )

    def _node(self, trade: Trade, record: DeclarationRecord, *, repeated: bool) -> dict[str, Any]:
        checked = {"identity_check": record.identity_check} if record.identity_check and not repeated else {}
        return wire.success(
            alipay_declare_no=record.declare_no,
            trade_no=trade.trade_no,
            pay_code=self._settings.customs_code,
            pay_transaction_id=trade.trade_no,
            **checked,
        )


def invalid(message: str) -> wire.GatewayError:
    return business_error("ACQ.INVALID_PARAMETER", message)


def _optional(biz: Mapping[str, str], name: str, limit: int) -> str | None:
    value = biz.get(name, "").strip()
    if len(value) > limit:
        raise invalid(f"{name} is longer than {limit} characters")
    return value or None


def _required(biz: Mapping[str, str], name: str, limit: int) -> str:
    value = _optional(biz, name, limit)
    if value is None:
        raise invalid(f"{name} is required")
    return value


def parse_request(biz: Mapping[str, str]) -> DeclareRequest:
    """Raises ``ACQ.INVALID_PARAMETER`` for a missing field, or one too long for the CEB411 it feeds."""
    fen = fen_from_yuan(_required(biz, "amount", 20))
    if fen is None or fen <= 0:
        raise invalid("amount must be a positive amount in yuan")
    split = biz.get("is_split", "").strip().upper() == "T"
    order_no = _required(biz, "sub_out_biz_no", _ORDER_NO_LIMIT) if split else None
    return DeclareRequest(
        out_request_no=_required(biz, "out_request_no", 64),
        platform=Enterprise(
            _required(biz, "merchant_customs_code", 18), _required(biz, "merchant_customs_name", 100)
        ),
        customs_place=_required(biz, "customs_place", 20),
        amount_fen=fen,
        split=split,
        order_no=order_no or _optional(biz, "order_no", _ORDER_NO_LIMIT),
        buyer=_buyer(biz),
    )


def _buyer(biz: Mapping[str, str]) -> tuple[str, str] | None:
    fields = biz
    if biz.get("buyer_info"):
        try:
            info = json.loads(biz["buyer_info"])
        except ValueError:
            info = None
        if not isinstance(info, dict):
            raise invalid("buyer_info must be an object")
        fields = {
            "buyer_name": str(info.get("buyer_name") or ""),
            "buyer_id_no": str(info.get("buyer_cert_no") or ""),
        }
    name, number = _optional(fields, "buyer_name", 60), _optional(fields, "buyer_id_no", 60)
    if name is None or number is None:
        if name or number:
            raise invalid("the buyer needs both a name and an ID number")
        return None
    return name, number.upper()


def _same_request(
    earlier: list[DeclarationRecord], request: DeclareRequest, order_no: str
) -> DeclarationRecord | None:
    """The declaration made for this ``out_request_no`` before, if any; it must be the same one."""
    for previous in earlier:
        if previous.out_request_no == request.out_request_no:
            if (previous.order_no, previous.amount_fen) != (order_no, request.amount_fen):
                raise invalid("out_request_no was used for another declaration")
            return previous
    return None


def order_no_of(trade: Trade) -> str:
    """The order a trade paid for: its ``out_trade_no`` less a trailing ``-N`` attempt number."""
    match = _ATTEMPT_SUFFIX.fullmatch(trade.out_trade_no)
    order_no = match["order_no"] if match else trade.out_trade_no
    if len(order_no) > _ORDER_NO_LIMIT:
        raise invalid(
            f"out_trade_no is too long for customs' orderNo: give order_no (at most {_ORDER_NO_LIMIT})"
        )
    return order_no


def require_declarable(trade: Trade, request: DeclareRequest) -> None:
    """Only a paid trade that was not refunded in full, for at most what was paid (all of it unsplit)."""
    if not trade.is_paid:
        raise business_error("ACQ.TRADE_STATUS_ERROR", "the trade has not been paid")
    if trade.status not in (TradeStatus.TRADE_SUCCESS, TradeStatus.TRADE_FINISHED):
        raise business_error("ACQ.TRADE_STATUS_ERROR", "the trade was refunded in full and is closed")
    if request.amount_fen > trade.total_fen:
        raise invalid("amount exceeds the amount paid")
    if not request.split and request.amount_fen != trade.total_fen:
        raise invalid("without is_split the whole payment is declared: amount must equal the amount paid")


def payer_of(trade: Trade, fault: CustomsFault | None) -> Person:
    """Who paid, from the sandbox's own record (the person who confirmed on the hosted page); another
    person under the payer fault. The sandbox does not know the payer's telephone (optional in CEB411)."""
    if trade.payer_name is None or trade.payer_cert_no is None:
        raise business_error("ACQ.TRADE_STATUS_ERROR", "the trade has no payer on record")
    real = Person(trade.payer_name, trade.payer_cert_no, telephone="")
    if fault is not CustomsFault.PAYER:
        return real
    people = (Person(name, digits + check_character(digits), "") for name, digits in _STAND_INS)
    # Three candidates: the real payer's name and number can rule out two at most.
    return next(p for p in people if p.name != real.name and p.id_number != real.id_number)


def identity_check(buyer: tuple[str, str] | None, payer: Person) -> str | None:
    """``T`` when the buyer the merchant gave is the payer declared, ``F`` if not; None: none given."""
    if buyer is None:
        return None
    return "T" if buyer == (payer.name, payer.id_number.upper()) else "F"


def new_declare_no(now: datetime) -> str:
    """20 digits: the day in China and 12 random digits."""
    return f"{now.astimezone(CHINA_STANDARD_TIME):%Y%m%d}{secrets.randbelow(10**12):012d}"
