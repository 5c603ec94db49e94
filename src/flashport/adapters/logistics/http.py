"""The sandbox carrier's JSON API over HTTP (``flashport.sandbox_logistics``; see
``docs/sandbox-logistics.md``). ``transport`` lets tests and the demo call an in-process app."""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from urllib.parse import quote

import httpx

from flashport.adapters.logistics.interface import (
    LogisticsRefused,
    LogisticsUnavailable,
    Waybill,
    WaybillRequest,
)
from flashport.adapters.tls import tls
from flashport.ceb.model import Consignee

BATCH_TIMEOUT_SECONDS = 120.0


class HttpLogisticsProvider:
    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float = 10,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        # A batch is up to 100 waybills made and declared in one CEB511 before the answer: on a loaded
        # machine that takes far longer than one waybill, and a batch given up on is only asked again.
        self._batch_timeout = max(timeout, BATCH_TIMEOUT_SECONDS)
        self._client = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            timeout=timeout,
            transport=transport,
            headers={"authorization": f"Bearer {api_key}"},
            verify=tls(),
        )

    async def create_waybill(self, request: WaybillRequest) -> Waybill:
        return await self._call("POST", "/v1/waybills", _request_body(request))

    async def create_waybills(self, requests: list[WaybillRequest]) -> list[Waybill]:
        answer = await self._exchange(
            "POST",
            "/v1/waybills/batch",
            {"waybills": [_request_body(r) for r in requests]},
            patience=self._batch_timeout,
        )
        try:
            items = answer.json()["waybills"]
            if not isinstance(items, list) or len(items) != len(requests):
                raise ValueError("not one waybill per request")
        except (ValueError, KeyError, TypeError) as exc:
            raise LogisticsUnavailable(f"carrier answer unreadable: {exc!r}") from exc
        return [_waybill_of(item) for item in items]

    async def waybill(self, logistics_no: str) -> Waybill:
        return await self._call("GET", _path(logistics_no))

    async def dispatch(self, logistics_no: str) -> Waybill:
        return await self._call("POST", _path(logistics_no, "dispatch"))

    async def redeclare(
        self, logistics_no: str, consignee: Consignee | None, *, weight_kg: Decimal | None = None
    ) -> Waybill:
        body: dict[str, Any] = {}
        if consignee is not None:
            body["consignee"] = _consignee_body(consignee)
        if weight_kg is not None:
            body["weight_kg"] = format(weight_kg, "f")
        return await self._call("POST", _path(logistics_no, "redeclare"), body)

    async def cancel(self, logistics_no: str) -> Waybill:
        return await self._call("POST", _path(logistics_no, "cancel"))

    async def close(self) -> None:
        await self._client.aclose()

    async def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Waybill:
        answer = await self._exchange(method, path, body)
        try:
            return _waybill_of(answer.json())
        except ValueError as exc:
            raise LogisticsUnavailable(f"carrier answer unreadable: {exc!r}") from exc

    async def _exchange(
        self, method: str, path: str, body: dict[str, Any] | None, *, patience: float | None = None
    ) -> httpx.Response:
        try:
            answer = await self._client.request(
                method,
                path,
                json=body,
                timeout=patience if patience is not None else httpx.USE_CLIENT_DEFAULT,
            )
        except httpx.HTTPError as exc:
            raise LogisticsUnavailable(f"carrier unreachable: {exc!r}") from exc
        if answer.status_code >= 500:
            raise LogisticsUnavailable(f"carrier answered {answer.status_code}")
        if answer.status_code >= 400:
            raise LogisticsRefused(*_error_of(answer))
        return answer


def _path(logistics_no: str, action: str | None = None) -> str:
    path = f"/v1/waybills/{quote(logistics_no, safe='')}"
    return f"{path}/{action}" if action else path


def _consignee_body(consignee: Consignee) -> dict[str, str]:
    return {"name": consignee.name, "telephone": consignee.telephone, "address": consignee.address}


def _request_body(request: WaybillRequest) -> dict[str, Any]:
    return {
        "order_no": request.order_no,
        "platform_code": request.platform.code,
        "platform_name": request.platform.name,
        "trade_mode": request.trade_mode.value,
        "consignee": _consignee_body(request.consignee),
        "weight_kg": format(request.weight_kg, "f"),  # a decimal string: never a float on the wire
        "goods_info": request.goods_info,
        "freight_fen": request.freight_fen,
        "insured_fee_fen": request.insured_fee_fen,
    }


def _optional_text(value: Any) -> str | None:
    return None if value is None else str(value)


def _waybill_of(body: Any) -> Waybill:
    try:
        message = body["message"]
        return Waybill(
            logistics_no=str(body["logistics_no"]),
            logistics_code=str(body["logistics_code"]),
            logistics_name=str(body["logistics_name"]),
            bill_no=_optional_text(body["bill_no"]),
            traf_no=_optional_text(body["traf_no"]),
            voyage_no=_optional_text(body["voyage_no"]),
            status=str(body["status"]),
            declared=bool(body["declared"]),
            message=None if message is None else str(message).encode(),
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise LogisticsUnavailable(f"carrier answer unreadable: {exc!r}") from exc


def _error_of(answer: httpx.Response) -> tuple[str, str]:
    try:
        body = answer.json()
        return str(body["code"]), str(body["message"])
    except (ValueError, KeyError, TypeError):
        return f"http_{answer.status_code}", answer.text[:500]
