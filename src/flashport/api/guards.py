"""ASGI middleware in front of every route, the storefront and /docs included:

- :class:`RequestHygiene` refuses a path or query string with control characters (422
  ``invalid_characters``; a NUL byte reached PostgreSQL and answered 500) and caps request bodies per
  route (413 ``payload_too_large``), whether announced by Content-Length or streamed;
- :class:`SecurityHeaders` adds the security headers to every answer that does not set its own.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import unquote_to_bytes

import orjson

from flashport.domain.text import describe, forbidden_character

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]

DEFAULT_BODY_LIMIT = 64 * 1024
# Longest prefix wins. A provider's notification is a form of a few hundred bytes: 16 KiB is ample.
BODY_LIMITS = {
    "/api/v1/payments/alipay/notify": 16 * 1024,
    "/api/v1/partner": 1024 * 1024,
    "/sandbox/": 4 * 1024 * 1024,  # the partners' simulators take whole customs messages
    "/operator/catalog/": 3 * 1024 * 1024,  # a product image (2 MiB at most) with its form
}

CSP = (
    "default-src 'self'; img-src 'self' data: https:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)
HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
]
HSTS = (b"strict-transport-security", b"max-age=63072000; includeSubDomains")


def body_limit(path: str) -> int:
    chosen, length = DEFAULT_BODY_LIMIT, -1
    for prefix, limit in BODY_LIMITS.items():
        if path.startswith(prefix) and len(prefix) > length:
            chosen, length = limit, len(prefix)
    return chosen


async def _refuse(send: Send, status: int, code: str, message: str) -> None:
    body = orjson.dumps({"code": code, "message": message, "details": []})
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class RequestHygiene:
    def __init__(self, app: App) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        problem = _bad_characters(scope)
        if problem is not None:
            await _refuse(send, 422, "invalid_characters", problem)
            return
        limit = body_limit(scope["path"])
        declared = _content_length(scope)
        if declared is not None:
            if declared > limit:
                await _refuse(send, 413, "payload_too_large", f"the body may have at most {limit} bytes")
                return
            await self.app(scope, receive, send)
            return
        if scope["method"] in ("GET", "HEAD", "OPTIONS", "DELETE"):
            await self.app(scope, receive, send)
            return
        replay = await _read_capped(receive, limit)
        if replay is None:
            await _refuse(send, 413, "payload_too_large", f"the body may have at most {limit} bytes")
            return
        await self.app(scope, replay, send)


def _bad_characters(scope: Scope) -> str | None:
    path = scope["path"]
    bad = forbidden_character(path)
    if bad is not None:
        return f"the path holds the character {describe(bad)}"
    query: bytes = scope.get("query_string", b"")
    if query:
        text = unquote_to_bytes(query.replace(b"+", b" ")).decode("utf-8", "replace")
        bad = forbidden_character(text)
        if bad is not None:
            return f"the query string holds the character {describe(bad)}"
    return None


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _read_capped(receive: Receive, limit: int) -> Receive | None:
    """A streamed body read whole (at most ``limit`` bytes) and handed on as one message; None past
    the limit."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    delivered = False

    async def replay() -> Message:
        nonlocal delivered
        if delivered:
            return await receive()
        delivered = True
        return {"type": "http.request", "body": b"".join(chunks), "more_body": False}

    return replay


class SecurityHeaders:
    """CSP, X-Content-Type-Options, X-Frame-Options and Referrer-Policy on every answer (an answer's own
    value wins: the storefront sets the same); HSTS too when ``hsts`` (production)."""

    def __init__(self, app: App, *, hsts: bool) -> None:
        self.app = app
        self.headers = [*HEADERS, HSTS] if hsts else list(HEADERS)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(name, value) for name, value in self.headers if name not in present]
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, send_with_headers)
