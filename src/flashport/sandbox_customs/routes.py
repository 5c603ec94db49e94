"""HTTP handlers. The DXP binding the platform's ``HttpCustomsGateway`` speaks:

- ``POST /dxp/messages``: one CEB311/411/511/621 message as the body. 202 ``{"guid", "kind"}`` when
  taken (the verdict comes as a receipt); 400 ``{"code": "not_a_ceb_message", "message"}`` otherwise.
- ``GET /dxp/inbox/{dxp_id}?after=0&limit=100``: ``{"items": [{"seq", "kind", "message"}], "last_seq"}``.

And for people and tests: ``GET /declarations/{order_no}[?ebp_code=]``, ``GET /declarations[?state=]``.

Administration (the e-port's registration desk and customs' tax calendar, not the DXP binding), behind
``Authorization: Bearer <admin_token>`` when the setting is given:

- ``POST /admin/certificates`` ``{"agent_code", "role", "certificate"}`` (PEM): 201, registered.
- ``GET /admin/certificates``: ``{"certificates": [{"agent_code", "role", "fingerprint"}]}``.
- ``POST /admin/tax-bills/summarise`` ``{"period": "YYYY-MM"}``: the month's issued tax bills are
  summarised (status 2) and a CEB818 goes to each agent; ``{"period", "bills", "total_fen"}``.
- ``POST /admin/declarations/{order_no}/release[?ebp_code=]``: customs' officer releases a list held
  accepted (``hold_release``): 200 with the declaration once it is released (again: the same answer),
  409 ``not_accepted`` when it is in another state (withdrawn by a CEB623 first, say), 404 when
  nothing of the order is on file.
"""

from __future__ import annotations

import hmac
import json
import re

from starlette.requests import Request
from starlette.responses import JSONResponse

from flashport.sandbox_customs.certificates import BadCertificate, registration
from flashport.sandbox_customs.reading import NotACebMessage
from flashport.sandbox_customs.single_window import SingleWindow
from flashport.sandbox_customs.statuses import DeclarationState
from flashport.sandbox_customs.views import declaration_view

INBOX_PAGE_MAX = 500


class BadParameter(ValueError):
    pass


def window_of(request: Request) -> SingleWindow:
    window: SingleWindow | None = getattr(request.app.state, "single_window", None)
    if window is None:
        raise RuntimeError("the customs simulator is not started: run its app's lifespan")
    return window


def _error(code: str, message: str, status: int) -> JSONResponse:
    return JSONResponse({"code": code, "message": message}, status)


def _int_param(request: Request, name: str, default: int, lowest: int, highest: int) -> int:
    text = request.query_params.get(name)
    try:
        value = default if text is None else int(text)
    except ValueError:
        raise BadParameter(f"{name} must be an integer") from None
    if not lowest <= value <= highest:
        raise BadParameter(f"{name} must be between {lowest} and {highest}")
    return value


async def post_message(request: Request) -> JSONResponse:
    try:
        guid, kind = await window_of(request).receive_any(await request.body())
    except NotACebMessage as exc:
        return _error("not_a_ceb_message", str(exc), 400)
    return JSONResponse({"guid": guid, "kind": kind}, 202)


async def read_inbox(request: Request) -> JSONResponse:
    try:
        after = _int_param(request, "after", 0, 0, 2**63 - 1)
        limit = _int_param(request, "limit", 100, 1, INBOX_PAGE_MAX)
    except BadParameter as exc:
        return _error("invalid_parameter", str(exc), 400)
    items = await window_of(request).inbox(request.path_params["dxp_id"], after, limit)
    return JSONResponse({"items": items, "last_seq": items[-1]["seq"] if items else after})


async def show_declaration(request: Request) -> JSONResponse:
    order_no = request.path_params["order_no"]
    view = await window_of(request).declaration(order_no, request.query_params.get("ebp_code"))
    if view is None:
        return _error("not_found", f"nothing is on file for order {order_no}", 404)
    return JSONResponse(view)


async def list_declarations(request: Request) -> JSONResponse:
    text = request.query_params.get("state")
    try:
        state = DeclarationState(text) if text else None
    except ValueError:
        states = ", ".join(state.value for state in DeclarationState)
        return _error("invalid_parameter", f"state must be one of {states}", 400)
    return JSONResponse({"declarations": await window_of(request).declarations(state)})


def _admin_refused(request: Request) -> JSONResponse | None:
    token = request.app.state.settings.admin_token
    if token is None:
        return None
    given = request.headers.get("authorization", "").removeprefix("Bearer ")
    if hmac.compare_digest(given.encode(), token.encode()):
        return None
    return _error("unauthorized", "the admin endpoints need Authorization: Bearer <admin_token>", 401)


async def _json_body(request: Request) -> dict[str, object]:
    try:
        body = json.loads(await request.body())
    except ValueError:
        raise BadParameter("the body must be a JSON object") from None
    if not isinstance(body, dict):
        raise BadParameter("the body must be a JSON object")
    return body


async def register_certificate(request: Request) -> JSONResponse:
    if (refused := _admin_refused(request)) is not None:
        return refused
    try:
        body = await _json_body(request)
        entry = registration(
            str(body.get("agent_code", "")), str(body.get("role", "")), str(body.get("certificate", ""))
        )
    except (BadParameter, BadCertificate) as exc:
        return _error("invalid_certificate", str(exc), 400)
    await window_of(request).register_certificate(entry)
    return JSONResponse(
        {"agent_code": entry.agent_code, "role": entry.role.value, "fingerprint": entry.fingerprint}, 201
    )


async def list_certificates(request: Request) -> JSONResponse:
    if (refused := _admin_refused(request)) is not None:
        return refused
    found = await window_of(request).certificates()
    return JSONResponse(
        {
            "certificates": [
                {"agent_code": e.agent_code, "role": e.role.value, "fingerprint": e.fingerprint}
                for e in found
            ]
        }
    )


_PERIOD = re.compile(r"\d{4}-(0[1-9]|1[0-2])")


async def summarise_tax_bills(request: Request) -> JSONResponse:
    if (refused := _admin_refused(request)) is not None:
        return refused
    try:
        period = str((await _json_body(request)).get("period", ""))
    except BadParameter as exc:
        return _error("invalid_parameter", str(exc), 400)
    if not _PERIOD.fullmatch(period):
        return _error("invalid_parameter", "period must be a month, YYYY-MM", 400)
    summary = await window_of(request).summarise_tax_bills(period)
    return JSONResponse({"period": summary.period, "bills": summary.bills, "total_fen": summary.total_fen})


async def release_declaration(request: Request) -> JSONResponse:
    if (refused := _admin_refused(request)) is not None:
        return refused
    order_no = request.path_params["order_no"]
    found = await window_of(request).release(order_no, request.query_params.get("ebp_code"))
    if found is None:
        return _error("not_found", f"nothing is on file for order {order_no}", 404)
    view = declaration_view(order_no, found, None, None)
    if found.state is not DeclarationState.RELEASED:
        return JSONResponse(
            {
                "code": "not_accepted",
                "message": f"the inventory list of order {order_no} is {found.state.value}, not accepted",
                "declaration": view,
            },
            409,
        )
    return JSONResponse(view)
