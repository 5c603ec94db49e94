"""The HTTP API: each handler authenticates, parses, calls one :class:`~.carrier.Carrier` method and
answers JSON. Refusals become ``{"code", "message"}`` with the status of :data:`STATUS`, here only."""

from __future__ import annotations

import hmac

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from flashport.sandbox_logistics.bodies import (
    CorrectionBody,
    FaultBody,
    MilestoneBody,
    WaybillBatchBody,
    WaybillBody,
    parse,
)
from flashport.sandbox_logistics.carrier import Carrier
from flashport.sandbox_logistics.errors import (
    InvalidRequest,
    LogisticsRefusal,
    Unauthorized,
    WaybillConflict,
    WaybillNotFound,
)
from flashport.sandbox_logistics.views import waybill_json

STATUS: dict[type[LogisticsRefusal], int] = {
    Unauthorized: 401,
    InvalidRequest: 422,
    WaybillNotFound: 404,
    WaybillConflict: 409,
}


def carrier_of(request: Request) -> Carrier:
    """The carrier, for a request that carries the platform's key (else :class:`Unauthorized`)."""
    scheme, _, key = request.headers.get("authorization", "").partition(" ")
    expected = request.app.state.settings.api_key
    if scheme.lower() != "bearer" or not hmac.compare_digest(key.strip().encode(), expected.encode()):
        raise Unauthorized("unauthorized", "send the API key as 'Authorization: Bearer <key>'")
    carrier: Carrier | None = getattr(request.app.state, "carrier", None)
    if carrier is None:
        raise RuntimeError("the sandbox is not started: run its app's lifespan (see sandbox_logistics)")
    return carrier


async def refusal(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, LogisticsRefusal):
        raise exc
    status = next((code for kind, code in STATUS.items() if isinstance(exc, kind)), 400)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse({"code": exc.code, "message": exc.message}, status, headers=headers)


async def create_waybill(request: Request) -> Response:
    carrier = carrier_of(request)
    order = parse(WaybillBody, await request.body()).parcel_order()
    view, made = await carrier.create(order)
    return JSONResponse(waybill_json(view, carrier.sender), 201 if made else 200)


async def create_waybills(request: Request) -> Response:
    """Many waybills in one exchange, answered in the order asked; a body with one bad waybill is
    refused whole (422), so the platform can ask for that batch's waybills one by one."""
    carrier = carrier_of(request)
    body = parse(WaybillBatchBody, await request.body())
    views = await carrier.create_many([w.parcel_order() for w in body.waybills])
    return JSONResponse({"waybills": [waybill_json(view, carrier.sender) for view in views]})


async def show_waybill(request: Request) -> Response:
    carrier = carrier_of(request)
    view = await carrier.show(request.path_params["logistics_no"])
    return JSONResponse(waybill_json(view, carrier.sender))


async def redeclare_waybill(request: Request) -> Response:
    carrier = carrier_of(request)
    body = parse(CorrectionBody, await request.body(), empty_ok=True)
    consignee = body.consignee.consignee() if body.consignee else None
    view = await carrier.redeclare(request.path_params["logistics_no"], consignee, body.weight_kg)
    return JSONResponse(waybill_json(view, carrier.sender))


async def dispatch_waybill(request: Request) -> Response:
    carrier = carrier_of(request)
    view = await carrier.dispatch(request.path_params["logistics_no"])
    return JSONResponse(waybill_json(view, carrier.sender))


async def cancel_waybill(request: Request) -> Response:
    carrier = carrier_of(request)
    view = await carrier.cancel(request.path_params["logistics_no"])
    return JSONResponse(waybill_json(view, carrier.sender))


async def scan_waybill(request: Request) -> Response:
    carrier = carrier_of(request)
    body = parse(MilestoneBody, await request.body())
    view = await carrier.scan(request.path_params["logistics_no"], body.milestone, body.at)
    return JSONResponse(waybill_json(view, carrier.sender))


async def plant_fault(request: Request) -> Response:
    carrier = carrier_of(request)
    body = parse(FaultBody, await request.body())
    await carrier.plant_fault(body.order_no, body.fault)
    return JSONResponse({"order_no": body.order_no, "fault": body.fault.value if body.fault else None})
