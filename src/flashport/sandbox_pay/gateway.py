"""``/gateway.do``: the one URL of Alipay's open platform, dispatching on ``method``.

Every request must carry the merchant's RSA2 signature over its parameters. The hosted payment page
(``alipay.trade.page.pay``) answers in HTML; the API methods answer signed JSON, errors included, always
with HTTP 200 as Alipay does.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from flashport.adapters.payments import alipay_protocol
from flashport.sandbox_pay import pages, wire
from flashport.sandbox_pay.identity import is_resident_id_number
from flashport.sandbox_pay.provider import SandboxProvider
from flashport.sandbox_pay.trades import SpecifiedBuyer, TradeStatus, fen_from_yuan, parse_china_time
from flashport.sandbox_pay.wire import PAGE_PAY, GatewayError, business_error

JSON_UTF8 = "application/json; charset=utf-8"


def provider_of(request: Request) -> SandboxProvider:
    provider: SandboxProvider | None = getattr(request.app.state, "sandbox_provider", None)
    if provider is None:
        raise RuntimeError("the sandbox is not started: run its app's lifespan (see flashport.sandbox_pay)")
    return provider


async def gateway(request: Request) -> Response:
    provider = provider_of(request)
    params = dict(request.query_params)
    if request.method == "POST":
        params.update({k: v for k, v in (await request.form()).items() if isinstance(v, str)})
    method = params.get("method", "")
    try:
        _authenticate(params, provider)
        biz = _biz_content(params)
    except GatewayError as refusal:
        if method == PAGE_PAY:
            return _error_page(refusal, 400)
        name = method if method in API_METHODS else "error"
        return Response(provider.respond(name, refusal.node()), media_type=JSON_UTF8)
    if method == PAGE_PAY:
        return await _page_pay(request, provider, params, biz)
    return await _api(provider, method, biz)


async def _api(provider: SandboxProvider, method: str, biz: dict[str, Any]) -> Response:
    handler = API_METHODS.get(method)
    try:
        if handler is None:
            raise GatewayError("40002", "isv.invalid-method", f"unknown method {method!r}")
        node = await handler(provider, biz)
    except GatewayError as refusal:
        node = refusal.node()
    return Response(provider.respond(method if handler else "error", node), media_type=JSON_UTF8)


def _authenticate(params: dict[str, str], provider: SandboxProvider) -> None:
    for name, sub_code in (("method", "isv.missing-method"), ("app_id", "isv.missing-app-id")):
        if not params.get(name):
            raise GatewayError("40001", sub_code, f"{name} is required")
    if not params.get("sign"):
        raise GatewayError("40001", "isv.missing-signature", "sign is required")
    if params["app_id"] != provider.settings.app_id:
        raise GatewayError("40002", "isv.invalid-app-id", "unknown app_id")
    if params.get("sign_type", alipay_protocol.SIGN_TYPE) != alipay_protocol.SIGN_TYPE:
        raise GatewayError("40002", "isv.invalid-signature-type", "only RSA2 is accepted")
    if not alipay_protocol.verify_request(params, provider.merchant_key):
        raise GatewayError(
            "40002", "isv.invalid-signature", "the signature does not verify with the app's key"
        )


def _biz_content(params: dict[str, str]) -> dict[str, Any]:
    """Every field as text; a nested object (``buyer_info``, ``ext_user_info``) or list as its JSON
    text."""
    try:
        biz = json.loads(params.get("biz_content") or "{}")
    except ValueError:
        biz = None
    if not isinstance(biz, dict):
        raise GatewayError("40002", "isv.invalid-parameter", "biz_content must be a JSON object")
    return {k: _text(v) for k, v in biz.items() if v is not None}


def _text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False) if isinstance(value, dict | list) else str(value)


def _required(biz: dict[str, Any], name: str) -> str:
    value = biz.get(name, "").strip()
    if not value:
        raise business_error("ACQ.INVALID_PARAMETER", f"{name} is required")
    return str(value)


def _amount(biz: dict[str, Any], name: str) -> int:
    fen = fen_from_yuan(_required(biz, name))
    if fen is None or fen <= 0:
        raise business_error("ACQ.INVALID_PARAMETER", f"{name} must be a positive amount in yuan")
    return fen


def _specified_buyer(biz: dict[str, Any]) -> SpecifiedBuyer | None:
    """``ext_user_info`` (Alipay's "specified buyer"): with ``need_check_info`` = ``T``, the payer's
    real-name record must match each of ``name``, ``cert_type`` and ``cert_no`` given, or the payment
    fails; without it (or with no item given) nobody is checked."""
    if not biz.get("ext_user_info"):
        return None
    try:
        info = json.loads(biz["ext_user_info"])
    except ValueError:
        info = None
    if not isinstance(info, dict):
        raise business_error("ACQ.INVALID_PARAMETER", "ext_user_info must be a JSON object")
    if str(info.get("need_check_info") or "F").upper() != "T":
        return None
    cert_type = str(info.get("cert_type") or wire.PAYER_CERT_TYPE)
    if cert_type != wire.PAYER_CERT_TYPE:
        raise business_error("ACQ.INVALID_PARAMETER", "the sandbox checks cert_type IDENTITY_CARD only")
    name = str(info.get("name") or "").strip() or None
    cert_no = str(info.get("cert_no") or "").strip().upper() or None
    if name is not None and len(name) > 64:
        raise business_error("ACQ.INVALID_PARAMETER", "ext_user_info.name is longer than 64 characters")
    if cert_no is not None and not is_resident_id_number(cert_no):
        raise business_error("ACQ.INVALID_PARAMETER", "ext_user_info.cert_no is not a valid resident ID")
    return None if name is None and cert_no is None else SpecifiedBuyer(name, cert_no)


def _error_page(refusal: GatewayError, status: int) -> HTMLResponse:
    return HTMLResponse(pages.message_page("Payment request refused", refusal.sub_msg, alert=True), status)


async def _page_pay(
    request: Request, provider: SandboxProvider, params: dict[str, str], biz: dict[str, Any]
) -> HTMLResponse:
    try:
        if biz.get("product_code", "FAST_INSTANT_TRADE_PAY") != "FAST_INSTANT_TRADE_PAY":
            raise business_error("ACQ.INVALID_PARAMETER", "product_code must be FAST_INSTANT_TRADE_PAY")
        expires_at = parse_china_time(biz["time_expire"]) if biz.get("time_expire") else None
        if biz.get("time_expire") and expires_at is None:
            raise business_error("ACQ.INVALID_PARAMETER", "time_expire must read yyyy-MM-dd HH:mm:ss")
        trade = await provider.open(
            out_trade_no=_required(biz, "out_trade_no")[:64],
            subject=_required(biz, "subject")[:256],
            total_fen=_amount(biz, "total_amount"),
            urls=(params.get("notify_url") or None, params.get("return_url") or None),
            expires_at=expires_at,
            buyer=_specified_buyer(biz),
        )
    except GatewayError as refusal:
        return _error_page(refusal, 400)
    if trade.is_paid:
        return HTMLResponse(pages.message_page("Already paid", "This order has already been paid.", trade))
    if trade.status is not TradeStatus.WAIT_BUYER_PAY:
        return HTMLResponse(pages.message_page("Trade closed", "This trade is closed.", trade), 409)
    settings = provider.settings
    page = pages.payment_page(
        trade,
        merchant=settings.merchant_name,
        base=request.scope.get("root_path", ""),
        payer=(settings.demo_payer_name, settings.demo_payer_id_number),
        buyer_only=await provider.trades.specified_buyer(trade.trade_no) is not None,
    )
    return HTMLResponse(page)


async def _query(provider: SandboxProvider, biz: dict[str, Any]) -> dict[str, Any]:
    trade = await provider.find(out_trade_no=biz.get("out_trade_no"), trade_no=biz.get("trade_no"))
    return wire.query_node(trade)


async def _refund(provider: SandboxProvider, biz: dict[str, Any]) -> dict[str, Any]:
    trade = await provider.find(out_trade_no=biz.get("out_trade_no"), trade_no=biz.get("trade_no"))
    amount = _amount(biz, "refund_amount")
    # Alipay lets a single full refund omit out_request_no; it then stands for the trade itself.
    out_request_no = biz.get("out_request_no") or trade.out_trade_no
    return await provider.refund(trade, out_request_no[:64], amount, biz.get("refund_reason"))


async def _refund_query(provider: SandboxProvider, biz: dict[str, Any]) -> dict[str, Any]:
    trade = await provider.find(out_trade_no=biz.get("out_trade_no"), trade_no=biz.get("trade_no"))
    return await provider.refund_status(trade, _required(biz, "out_request_no")[:64])


async def _close(provider: SandboxProvider, biz: dict[str, Any]) -> dict[str, Any]:
    trade = await provider.find(out_trade_no=biz.get("out_trade_no"), trade_no=biz.get("trade_no"))
    return wire.close_node(await provider.close(trade))


async def _customs_declare(provider: SandboxProvider, biz: dict[str, Any]) -> dict[str, Any]:
    trade = await provider.find(out_trade_no=biz.get("out_trade_no"), trade_no=_required(biz, "trade_no"))
    return await provider.customs.declare(trade, biz)


API_METHODS: dict[str, Callable[[SandboxProvider, dict[str, Any]], Awaitable[dict[str, Any]]]] = {
    "alipay.trade.query": _query,
    "alipay.trade.refund": _refund,
    "alipay.trade.fastpay.refund.query": _refund_query,
    "alipay.trade.close": _close,
    "alipay.trade.customs.declare": _customs_declare,  # see customs.py
}
