"""Sandbox-only routes under ``/sandbox/``, for automated tests and the benchmark. Alipay has nothing
like them: they need no signature, so never expose a sandbox where real merchants could reach it.

- ``POST /sandbox/trades/{out_trade_no}/pay`` (JSON ``payer_name``, ``payer_id_number``, ``notify``
  default true): pay as if the buyer confirmed on the page.
- ``POST /sandbox/trades/{out_trade_no}/renotify``: send the last notification again, unchanged.
- ``GET /sandbox/trades/{out_trade_no}``: the trade, its refunds (``refund_fee``: their total in yuan)
  and its deliveries with every attempt.

A trade exists once the buyer's browser has opened the hosted page (``alipay.trade.page.pay``), as with
Alipay; these routes find it by ``out_trade_no`` but cannot make one.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from flashport.adapters.payments import alipay_protocol
from flashport.sandbox_pay.customs import CustomsFault, invalid
from flashport.sandbox_pay.gateway import provider_of
from flashport.sandbox_pay.provider import SandboxProvider
from flashport.sandbox_pay.trades import Trade
from flashport.sandbox_pay.wire import GatewayError


def _refusal(refusal: GatewayError) -> JSONResponse:
    status = 404 if refusal.sub_code == "ACQ.TRADE_NOT_EXIST" else 409
    if refusal.sub_code == "ACQ.INVALID_PARAMETER":
        status = 422
    return JSONResponse(refusal.node(), status)


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    try:
        body = json.loads(raw) if raw.strip() else {}
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise GatewayError("40002", "ACQ.INVALID_PARAMETER", "the body must be a JSON object")
    return body


async def pay(request: Request) -> JSONResponse:
    provider = provider_of(request)
    try:
        body = await _body(request)
        trade = await provider.find(out_trade_no=request.path_params["out_trade_no"])
        trade = await provider.pay(
            trade,
            str(body.get("payer_name") or provider.settings.demo_payer_name),
            str(body.get("payer_id_number") or provider.settings.demo_payer_id_number),
            notify=bool(body.get("notify", True)),
        )
    except GatewayError as refusal:
        return _refusal(refusal)
    return JSONResponse(await _view(provider, trade))


async def renotify(request: Request) -> JSONResponse:
    provider = provider_of(request)
    try:
        trade = await provider.find(out_trade_no=request.path_params["out_trade_no"])
    except GatewayError as refusal:
        return _refusal(refusal)
    delivery = await provider.renotify(trade)
    if delivery is None:
        return JSONResponse(
            {"code": "NO_NOTIFICATION", "sub_msg": "nothing was ever sent for this trade"}, 404
        )
    return JSONResponse({"notify_id": delivery.notify_id, "queued": True})


async def show(request: Request) -> JSONResponse:
    provider = provider_of(request)
    try:
        trade = await provider.find(out_trade_no=request.path_params["out_trade_no"])
    except GatewayError as refusal:
        return _refusal(refusal)
    return JSONResponse(await _view(provider, trade))


async def _view(provider: SandboxProvider, trade: Trade) -> dict[str, Any]:
    refunds = await provider.trades.refunds(trade.trade_no)
    view = {
        **asdict(trade),
        "total_amount": trade.total_amount,
        "refund_fee": alipay_protocol.yuan(refunds[-1].refunded_total_fen if refunds else 0),
        "refunds": [asdict(refund) for refund in refunds],
        "deliveries": await provider.deliveries.history(trade.trade_no),
    }
    # Datetimes as ISO 8601 text; everything else is already JSON.
    return json.loads(json.dumps(view, default=lambda value: value.isoformat()))


async def set_fault(request: Request) -> JSONResponse:
    """``POST /sandbox/trades/{out_trade_no}/customs-fault``: the trade's next payment vouchers go wrong
    as ``customs.py`` describes."""
    provider = provider_of(request)
    try:
        body = await _body(request)
        fault = _fault(body.get("fault"))
        trade = await provider.find(out_trade_no=request.path_params["out_trade_no"])
        await provider.customs.set_fault(trade, fault)
    except GatewayError as refusal:
        return _refusal(refusal)
    return JSONResponse({"out_trade_no": trade.out_trade_no, "trade_no": trade.trade_no, "fault": fault})


def _fault(value: object) -> CustomsFault | None:
    if value is None:
        return None
    try:
        return CustomsFault(str(value))
    except ValueError:
        choices = ", ".join(f'"{fault.value}"' for fault in CustomsFault)
        raise invalid(f"fault must be one of {choices} or null") from None
