"""Alipay (or the sandbox that plays it) as Flashport's payment provider."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import httpx

from flashport.adapters.identity_vault import mask_id_numbers_in
from flashport.adapters.payments import alipay_protocol as proto
from flashport.adapters.payments.interface import (
    Checkout,
    CustomsDeclarationAnswer,
    CustomsDeclarationRequest,
    Exchange,
    NotificationCheck,
    PaymentProvider,
    RefundAnswer,
    RefundCheck,
    RefundProgress,
)
from flashport.adapters.tls import tls
from flashport.domain.payments import TradeReport, TradeState
from flashport.settings import Settings

CHINA = ZoneInfo("Asia/Shanghai")  # Alipay's timestamps are China Standard Time
CUSTOMS_DECLARE = "alipay.trade.customs.declare"
REFUND_QUERY = "alipay.trade.fastpay.refund.query"
REFUND_SUCCESS = "REFUND_SUCCESS"
PAGE_PAY = "alipay.trade.page.pay"
CERT_TYPE_ID_CARD = "IDENTITY_CARD"  # the resident ID card: the only ID customs takes for a buyer
STATES = {
    "TRADE_SUCCESS": TradeState.PAID,
    "TRADE_FINISHED": TradeState.PAID,
    "WAIT_BUYER_PAY": TradeState.WAITING,
    "TRADE_CLOSED": TradeState.CLOSED,
}


def _cst(moment: datetime) -> str:
    return proto.timestamp(moment.astimezone(CHINA))


def _parse_cst(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.strptime(text, proto.TIME_FORMAT).replace(tzinfo=CHINA).astimezone(UTC)
    except ValueError:
        return None


MAX_AMOUNT_FEN = 100_000_000_000  # 1,000,000,000.00 CNY: far above any order; bounds what is parsed


def _fen(text: str | None) -> int | None:
    """Whole fen from a yuan amount; None for anything else (``Infinity``, ``NaN``, a fraction of a
    fen, a negative or absurd amount, more than 20 characters)."""
    if text is None or len(text) > 20:
        return None
    try:
        value = Decimal(text) * 100
        if not value.is_finite() or not 0 <= value <= MAX_AMOUNT_FEN:
            return None
        return int(value) if value == value.to_integral_value() else None
    except InvalidOperation:
        return None


def _report(fields: Mapping[str, str]) -> TradeReport | None:
    state, amount = STATES.get(fields.get("trade_status", "")), _fen(fields.get("total_amount"))
    if state is None or amount is None or not fields.get("out_trade_no"):
        return None
    return TradeReport(
        out_trade_no=fields["out_trade_no"],
        trade_no=fields.get("trade_no", ""),
        state=state,
        amount_fen=amount,
        paid_at=_parse_cst(fields.get("gmt_payment") or fields.get("send_pay_date")),
    )


def _ext_user_info(checkout: Checkout) -> dict[str, str] | None:
    """Alipay's "specified buyer" (``ext_user_info``): with ``need_check_info`` = ``T`` Alipay compares
    the paying account's real-name record with ``name``, ``cert_type`` and ``cert_no``, and fails the
    payment if any differs. This is how payer = buyer (rule 8) is enforced: at payment time, by the
    provider, not by reading the payer back from the notification (which carries no such fields)."""
    if checkout.buyer is None:
        return None
    return {
        "name": checkout.buyer.name,
        "cert_type": CERT_TYPE_ID_CARD,
        "cert_no": checkout.buyer.id_number,
        "need_check_info": "T",
    }


def _customs_biz(request: CustomsDeclarationRequest) -> dict[str, object]:
    """Alipay declares a trade under its ``out_trade_no``. An order paid by a later attempt
    (``ORDERNO-2``) is declared as a split sub-order instead: ``sub_out_biz_no`` is Alipay's documented
    way to name the order customs should see. The buyer goes as ``buyer_info`` for the identity check."""
    biz: dict[str, object] = {
        "out_request_no": request.out_request_no,
        "trade_no": request.trade_no,
        "merchant_customs_code": request.merchant_customs_code,
        "merchant_customs_name": request.merchant_customs_name,
        "amount": proto.yuan(request.amount_fen),
        "customs_place": request.customs_place,
    }
    if request.order_no != request.out_trade_no:
        biz.update(is_split="T", sub_out_biz_no=request.order_no)
    if request.buyer_name and request.buyer_id_number:
        biz["buyer_info"] = {"buyer_name": request.buyer_name, "buyer_cert_no": request.buyer_id_number}
    return biz


def _identity_check(value: object) -> bool | None:
    return {"T": True, "F": False}.get(str(value).upper()) if value else None


def _refusal(node: Mapping[str, object]) -> str:
    return f"{node.get('code')} {node.get('sub_code', '')} {node.get('sub_msg', '')}"


@dataclass(frozen=True)
class AlipayKeys:
    """The merchant app's private key (it signs requests) and Alipay's public key (it verifies
    notifications and answers), each as PEM or the bare base64 Alipay's console shows. Which keys
    (the real ones, or a sandbox's) is the composition root's choice (``flashport.bootstrap``)."""

    merchant_private: str
    provider_public: str


class AlipayProvider(PaymentProvider):
    name = "alipay"

    def __init__(self, settings: Settings, keys: AlipayKeys, client: httpx.AsyncClient | None = None) -> None:
        self._settings = settings
        self._app_id = settings.payment_app_id
        self._gateway = settings.payment_gateway_url
        self._private = proto.load_private_key(keys.merchant_private)
        self._provider_public = proto.load_public_key(keys.provider_public)
        self._http = client or httpx.AsyncClient(timeout=settings.payment_timeout_seconds, verify=tls())

    def _common(self, method: str, biz: Mapping[str, object], now: datetime) -> dict[str, object]:
        return {
            "app_id": self._app_id,
            "method": method,
            "format": "JSON",
            "charset": proto.CHARSET,
            "timestamp": _cst(now),
            "version": "1.0",
            "biz_content": json.dumps(biz, ensure_ascii=False, separators=(",", ":")),
        }

    def checkout_url(self, checkout: Checkout) -> str:
        biz: dict[str, object] = {
            "out_trade_no": checkout.out_trade_no,
            "total_amount": proto.yuan(checkout.amount_fen),
            "subject": checkout.subject[:256],
            "product_code": "FAST_INSTANT_TRADE_PAY",
            "time_expire": _cst(checkout.deadline),
        }
        specified = _ext_user_info(checkout)
        if specified is not None:
            biz["ext_user_info"] = specified
        # The URL carries the buyer's ID number (inside the signed biz_content) to the buyer's own
        # browser, as Alipay's page pay requires: it is built here and never logged.
        params = self._common(PAGE_PAY, biz, datetime.now(UTC))
        params.update(
            notify_url=self._settings.payment_notify_url, return_url=self._settings.payment_return_url
        )
        return f"{self._gateway}?{urlencode(proto.signed_request(params, self._private))}"

    def read_notification(self, form: Mapping[str, str]) -> NotificationCheck:
        fields = dict(form)
        if not proto.verify_notification(fields, self._provider_public):
            return NotificationCheck(False, None, "signature does not verify with the provider's key", fields)
        if fields.get("app_id") != self._app_id:
            return NotificationCheck(True, None, f"app_id {fields.get('app_id')!r} is not ours", fields)
        report = _report(fields)
        if report is None:
            return NotificationCheck(True, None, "unknown trade_status or malformed amount", fields)
        return NotificationCheck(True, report, "", fields)

    async def _call(
        self, kind: str, method: str, biz: Mapping[str, object]
    ) -> tuple[dict[str, object] | None, Exchange]:
        params = proto.signed_request(self._common(method, biz, datetime.now(UTC)), self._private)
        shown = {k: mask_id_numbers_in(str(v)) for k, v in params.items() if k != "sign"}
        try:
            answer = await self._http.post(self._gateway, data=params)
        except httpx.HTTPError as exc:
            return None, Exchange(kind, shown, None, f"{type(exc).__name__}: {exc}", False)
        node = proto.verify_response(answer.text, method, self._provider_public)
        return node, Exchange(
            kind, shown, answer.status_code, mask_id_numbers_in(answer.text), node is not None
        )

    async def query(self, out_trade_no: str) -> tuple[TradeReport | None, Exchange]:
        node, exchange = await self._call("query", "alipay.trade.query", {"out_trade_no": out_trade_no})
        if node is None or node.get("code") != proto.SUCCESS_CODE:
            return None, exchange
        return _report({k: str(v) for k, v in node.items()}), exchange

    async def refund(
        self, out_trade_no: str, trade_no: str, amount_fen: int, out_request_no: str, reason: str
    ) -> RefundAnswer:
        biz = {
            "out_trade_no": out_trade_no,
            "trade_no": trade_no,
            "refund_amount": proto.yuan(amount_fen),
            "out_request_no": out_request_no,
            "refund_reason": reason,
        }
        node, exchange = await self._call("refund", "alipay.trade.refund", biz)
        if node is None:
            return RefundAnswer(False, exchange, "no verified answer from the provider")
        if node.get("code") != proto.SUCCESS_CODE:
            return RefundAnswer(False, exchange, _refusal(node))
        return RefundAnswer(True, exchange)

    async def check_refund(
        self, out_trade_no: str, trade_no: str, out_request_no: str, amount_fen: int
    ) -> RefundCheck:
        """Alipay's refund query: ``refund_status`` REFUND_SUCCESS when the refund was made; a success
        without it means Alipay made no refund of that number (not yet, here: the payment company
        takes refunds from its feed); a business error is a refusal, with Alipay's reason."""
        biz = {"out_trade_no": out_trade_no, "trade_no": trade_no, "out_request_no": out_request_no}
        node, exchange = await self._call("refund_query", REFUND_QUERY, biz)
        if node is None:
            return RefundCheck(RefundProgress.UNKNOWN, exchange, "no verified answer from the provider")
        if node.get("code") != proto.SUCCESS_CODE:
            return RefundCheck(RefundProgress.REFUSED, exchange, _refusal(node).strip())
        if node.get("refund_status") != REFUND_SUCCESS:
            return RefundCheck(RefundProgress.NOT_YET, exchange)
        refunded = _fen(str(node.get("refund_amount", "")))
        if refunded != amount_fen:
            shown = node.get("refund_amount")
            return RefundCheck(RefundProgress.REFUSED, exchange, f"refunded {shown}, not the amount asked")
        return RefundCheck(RefundProgress.MADE, exchange)

    async def declare_to_customs(self, request: CustomsDeclarationRequest) -> CustomsDeclarationAnswer:
        node, exchange = await self._call("customs_declare", CUSTOMS_DECLARE, _customs_biz(request))
        if node is None:
            return CustomsDeclarationAnswer(False, exchange, error="no verified answer from the provider")
        if node.get("code") != proto.SUCCESS_CODE:
            return CustomsDeclarationAnswer(False, exchange, error=_refusal(node))
        declare_no = str(node.get("alipay_declare_no") or "")
        if not declare_no:
            return CustomsDeclarationAnswer(False, exchange, error="the answer has no alipay_declare_no")
        return CustomsDeclarationAnswer(
            True, exchange, declare_no=declare_no, identity_check=_identity_check(node.get("identity_check"))
        )

    async def close(self) -> None:
        await self._http.aclose()
