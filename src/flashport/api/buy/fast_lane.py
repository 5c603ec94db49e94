"""The buy endpoint's fast lane: a plain ASGI middleware that answers
``POST /api/v1/sale-items/{id}/buy`` before FastAPI's router, dependency solver and response
validation run.

Why: measured in-process on this 2-core machine, FastAPI's per-request machinery (middleware stack,
matching ~50 routes, solving dependencies, validating the response model) cost more CPU than the
purchase itself. The FastAPI route in ``routes/orders.py`` stays the documented contract (OpenAPI) and
the reference implementation; both lanes call the same service (:func:`flashport.services.sales.buying.buy`)
and the buy-path tests run against both (``FLASHPORT_BUY_FAST_LANE``).
"""

from __future__ import annotations

import re
from typing import Any

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from flashport.api.errors import status_for
from flashport.domain.accounts import Role
from flashport.domain.errors import DomainError, FieldProblem, Forbidden, InvalidInput, Unauthenticated
from flashport.services.accounts.tokens import verify_token
from flashport.services.sales import buying

BUY_PATH = re.compile(r"^/api/v1/sale-items/(\d{1,18})/buy$")
MAX_BODY = 4096
_JSON = [(b"content-type", b"application/json")]


class BuyFastLane:
    def __init__(self, app: ASGIApp, owner: Any) -> None:
        self.app = app
        self._owner = owner  # the FastAPI app, whose state holds the service context

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            match = BUY_PATH.match(scope["path"])
            if match is not None:
                await self._buy(scope, receive, send, int(match.group(1)))
                return
        await self.app(scope, receive, send)

    async def _buy(self, scope: Scope, receive: Receive, send: Send, item_id: int) -> None:
        ctx = self._owner.state.ctx
        try:
            headers = headers_of(scope)
            who = buyer_of(ctx, headers.get(b"authorization"))
            quantity = quantity_of(await _body(receive))
            key = headers.get(b"idempotency-key")
            order = await buying.buy(ctx, who, item_id, quantity, key.decode("latin-1") if key else None)
        except DomainError as exc:
            await _answer(send, status_for(exc), error_body(exc), error_headers(exc))
            return
        status = 201 if order.pop("created") else 200
        await _answer(send, status, order, [])


def headers_of(scope: Scope) -> dict[bytes, bytes]:
    return {name: value for name, value in scope["headers"]}


def buyer_of(ctx: Any, authorization: bytes | None) -> int:
    if not authorization or not authorization[:7].lower() == b"bearer ":
        raise Unauthenticated("this endpoint needs a bearer token", code="missing_token")
    who = verify_token(ctx, authorization[7:].decode("latin-1").strip())
    if who.role is not Role.BUYER:
        raise Forbidden("this action needs the role buyer", code="forbidden_role")
    return who.user_id


async def _body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message: Message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            raise InvalidInput("request body too large", code="payload_too_large")
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)


def quantity_of(body: bytes) -> int:
    if not body.strip():
        return 1
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise _invalid("body", 'expected a JSON object such as {"quantity": 1}') from None
    if not isinstance(data, dict):
        raise _invalid("body", "expected a JSON object")
    quantity = data.get("quantity", 1)
    if isinstance(quantity, bool) or not isinstance(quantity, int):
        raise _invalid("quantity", "Input should be a valid integer")
    return quantity


def _invalid(field: str, message: str) -> InvalidInput:
    return InvalidInput(
        "the request has invalid fields", code="validation_error", details=[FieldProblem(field, message)]
    )


def error_body(exc: DomainError) -> dict[str, Any]:
    return {
        "code": exc.code,
        "message": exc.message,
        "details": [{"field": d.field, "message": d.message} for d in exc.details],
    }


def error_headers(exc: DomainError) -> list[tuple[bytes, bytes]]:
    if isinstance(exc, Unauthenticated):
        return [(b"www-authenticate", b"Bearer")]
    retry = getattr(exc, "retry_after", None)
    return [(b"retry-after", str(retry).encode())] if retry is not None else []


async def _answer(send: Send, status: int, payload: dict[str, Any], extra: list[tuple[bytes, bytes]]) -> None:
    body = orjson.dumps(payload, option=orjson.OPT_UTC_Z)
    headers = [*_JSON, (b"content-length", str(len(body)).encode()), *extra]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
