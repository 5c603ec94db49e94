"""The waiting room's fast lane: a plain ASGI middleware that answers a buyer's join
(``POST /api/v1/sale-items/{id}/queue``) and poll (``GET`` of the same path) before FastAPI's router
and dependency solver run.

Why: in the record bench through the room every buyer joins, polls and buys, and the join and poll
went through FastAPI's machinery while the purchase had its own lane. py-spy on an API process put
about half of its time under FastAPI's router: matching some 150 routes 11 %, solving dependencies
29 % (most of it a read of each buyer's standing, now shared: ``RevocationList.standing``). Figures in
README, "The record benchmark".

The lane takes only the common case: a well-formed item id, a bearer token of a buyer whose standing is
good, a join with no body or an empty JSON object (sent as ``application/json``), and an answer the
service gives without raising. Anything else (a malformed or missing token, another role, an id out of
range, a join answering a challenge, a refusal, a store that failed) falls through to the FastAPI route
untouched (the body it read handed on), which gives the one documented answer; a join is idempotent, so
the route may take it again. Both answer through ``routes.waiting_room.status_bytes``: the same body,
ETag and headers (``tests/integration/test_queue_lane.py`` compares them).
"""

from __future__ import annotations

import re
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from flashport.api.observability import ROUTE_KEY
from flashport.api.queue_answer import (
    LONGEST_EMPTY,
    MAX_ITEM_ID,
    QUEUE_ROUTE,
    QueueAsk,
    buyer_of,
    empty_join,
    status_of,
)
from flashport.api.routes.waiting_room import status_bytes

QUEUE_PATH = re.compile(r"^/api/v1/sale-items/([1-9][0-9]{0,18})/queue$")


class QueueFastLane:
    def __init__(self, app: ASGIApp, owner: Any) -> None:
        self.app = app
        self._owner = owner  # the FastAPI app, whose state holds the service context

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("GET", "POST"):
            await self.app(scope, receive, send)
            return
        match = QUEUE_PATH.match(scope["path"])
        if match is None or int(match.group(1)) > MAX_ITEM_ID:
            await self.app(scope, receive, send)
            return
        body = b""
        if scope["method"] == "POST":
            body, receive = await _read_small(receive)
        content = await self._answer(scope, int(match.group(1)), body)
        if content is None:
            await self.app(scope, receive, send)
            return
        scope[ROUTE_KEY] = QUEUE_ROUTE
        await _send(send, scope, *content)

    async def _answer(self, scope: Scope, item_id: int, body: bytes) -> tuple[bytes, str] | None:
        """The status's body and ETag, or None: the route answers (``api/queue_answer.py`` says when)."""
        headers = scope["headers"]
        if not empty_join(body, _header(headers, b"content-type")):
            return None  # the route reads a body, or refuses one that is not JSON
        ctx = self._owner.state.ctx
        who = buyer_of(ctx, _header(headers, b"authorization"))
        if who is None:
            return None
        client = scope.get("client")
        ask = QueueAsk(item_id, who, scope["method"] == "POST", client[0] if client else None, None)
        try:
            found = await status_of(ctx, ask)
        except Exception:  # every refusal and failure is the route's to answer, the one documented way
            return None
        return status_bytes(found)


def _header(headers: list[tuple[bytes, bytes]], name: bytes) -> bytes | None:
    return next((value for key, value in headers if key == name), None)


async def _read_small(receive: Receive) -> tuple[bytes, Receive]:
    """A join's body when it is short (a longer one is not empty: the route reads it), and a receive
    that hands what was read on to whoever reads next."""
    read: list[Message] = []
    size = 0
    while True:
        message = await receive()
        read.append(message)
        size += len(message.get("body", b""))
        if message["type"] != "http.request" or not message.get("more_body") or size > LONGEST_EMPTY:
            break
    body = b"".join(m.get("body", b"") for m in read) if size <= LONGEST_EMPTY else b"-"

    async def replay() -> Message:
        return read.pop(0) if read else await receive()

    return body, replay


async def _send(send: Send, scope: Scope, content: bytes, etag: str) -> None:
    headers = [(b"etag", etag.encode()), (b"cache-control", b"private, no-cache")]
    asked = next((v for n, v in scope["headers"] if n == b"if-none-match"), None)
    if asked is not None and asked.decode("latin-1") == etag:
        await send({"type": "http.response.start", "status": 304, "headers": headers})
        await send({"type": "http.response.body", "body": b""})
        return
    headers += [(b"content-length", b"%d" % len(content)), (b"content-type", b"application/json")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": content})
