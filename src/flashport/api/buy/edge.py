"""The HTTP edge of the buy path: a uvicorn connection protocol that answers
``POST /api/v1/sale-items/{id}/buy`` itself and hands the connection to uvicorn for anything else.

Why: on this 2-core machine uvicorn's ASGI machinery (a scope, a cycle, an event and a task per
request, the message dicts, the middleware stack) cost more CPU than the purchase itself; a plain
``GET /livez`` through it ran at about 5,200 requests/s while a bare httptools protocol on the same
loop answered 27,000/s. The edge parses with the same parser (httptools) and answers through the same
function as the ASGI lanes (:func:`flashport.api.buy.answer.answer_purchase`: the one request reader,
the service, the one error mapping), so the answers are the same bytes of JSON; only the HTTP plumbing
is thinner. What it needs from uvicorn's internals goes through ``uvicorn_glue``.

Handing off: the first request on a connection that is not a purchase (a page, a login, an order
lookup) makes the edge rebuild that request's head, replay it and its body to a fresh uvicorn
``HttpToolsProtocol`` and let that protocol own the connection from then on, exactly as uvicorn itself
hands a connection to its WebSocket protocol. Purchases answered before the hand-off go out first, so
answers stay in request order. ``flashport serve`` installs the edge when ``FLASHPORT_BUY_FAST_LANE``
is on (the default).
"""

from __future__ import annotations

import asyncio
import re
import time
from collections import deque
from http import HTTPStatus
from typing import Any, NamedTuple, cast

import httptools

from flashport.adapters import metrics
from flashport.api.buy.answer import Answer, answer_purchase, refusal
from flashport.api.buy.client_address import trusted_proxies
from flashport.api.buy.request import MAX_BODY
from flashport.api.buy.uvicorn_glue import CONTEXT_KEY, UvicornSeat
from flashport.api.http_deadlines import ConnectionDeadlines
from flashport.api.observability import BUY_ROUTE
from flashport.api.queue_answer import (
    LONGEST_EMPTY,
    MAX_ITEM_ID,
    QUEUE_ROUTE,
    QueueAsk,
    answer_queue,
    buyer_of,
    empty_join,
)
from flashport.http_errors import ErrorAnswer

__all__ = ["CONTEXT_KEY", "BuyEdge"]  # CONTEXT_KEY: where the app's lifespan leaves the context
# Any one path segment without a percent sign: what it must hold is request.py's to say. A path with
# percent-escapes goes to uvicorn, which decodes it, and so to the fast lane (or the route): the same
# reader, on the same decoded path as they see.
BUY_URL = re.compile(rb"^/api/v1/sale-items/([^/?%]+)/buy(?:\?.*)?$")
# A waiting room's join (POST) and poll (GET): the edge answers the common case (api/queue_answer.py),
# so a buyer's connection (join, polls, purchase) stays here; the rest goes to uvicorn like any request.
QUEUE_URL = re.compile(rb"^/api/v1/sale-items/([1-9][0-9]{0,18})/queue$")
REASONS = {status.value: status.phrase.encode() for status in HTTPStatus}
MAX_PIPELINED = 32  # purchases held per connection before we stop reading from it
BAD_REQUEST = refusal(ErrorAnswer(400, "bad_request", "malformed HTTP request"))
_JSON_HEAD = b"\r\ncontent-type: application/json\r\ncontent-length: "


class Received(NamedTuple):
    """A purchase request as read off the wire, waiting its turn to be answered."""

    item_id: bytes  # the path segment, as sent
    authorization: bytes | None
    key: bytes | None
    body: bytes
    too_large: bool
    keep_alive: bool
    address: str | None  # the client's, for the per-address rate limit (client_address.py)


class Asked(NamedTuple):
    """A join or poll the edge answers, waiting its turn."""

    ask: QueueAsk
    keep_alive: bool


class BuyEdge(asyncio.Protocol):
    """One client connection. Built by uvicorn with the same arguments as its own protocols."""

    def __init__(
        self,
        config: Any,
        server_state: Any,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        self._uv = UvicornSeat(config, server_state, app_state, _loop)
        self._loop = self._uv.loop
        self._ctx = self._uv.lifespan_value(CONTEXT_KEY)
        self._parser = httptools.HttpRequestParser(self)
        self._transport: asyncio.Transport | None = None
        self._address: str | None = None
        self._proxied = False  # the peer is a proxy whose X-Forwarded-For is believed
        self._waiting: deque[Received | Asked] = deque()  # received, not yet answered
        self._serving = False
        self._closing = False  # close once the purchases in hand are answered
        self._reading_paused = False
        self._idle: asyncio.TimerHandle | None = None
        self._deadlines = ConnectionDeadlines(
            self._loop, self._uv.timeouts, self._too_slow, lambda: self._reading_paused
        )
        # Hand-off to uvicorn: the rebuilt bytes its protocol has yet to see (None: no hand-off begun),
        # the protocol once made, and whether the transport already delivers to it directly.
        self._replay: list[bytes] | None = None
        self._successor: asyncio.Protocol | None = None
        self._handed_off = False
        self._in_message = False  # between on_message_begin and on_message_complete
        self._owe_continue = False  # a "100 Continue" to send once the purchases ahead are answered
        self._lost = False
        # The connection's last request is in (``Connection: close``, HTTP/1.0, or bytes that are no
        # request): what follows it is not read, and every purchase before it still gets its answer.
        self._last_request = False
        self._malformed = False  # a 400 to send once the purchases ahead of the bad bytes are answered
        # The request being parsed.
        self._url = b""
        self._headers: list[tuple[bytes, bytes]] = []
        self._item_id: bytes | None = None
        self._queue_item: int | None = None  # the request is a join or poll the edge may answer
        self._authorization: bytes | None = None
        self._key: bytes | None = None
        self._forwarded_for: bytes | None = None
        self._chunked = False
        self._expect_continue = False
        self._body: list[bytes] = []
        self._body_size = 0

    # -- asyncio.Protocol ---------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's transports do not subclass it
        peer = transport.get_extra_info("peername")
        self._address = peer[0] if isinstance(peer, tuple) else None  # the rate limits' client address
        if self._ctx is not None:
            self._proxied = trusted_proxies(self._ctx.settings.forwarded_allow_ips).trusts(self._address)
        self._uv.join(self)
        self._deadlines.connection_opened()
        if self._ctx is None:  # no lifespan context (lifespan off): let uvicorn serve everything
            self._replay = []
            self._hand_off()

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost = True
        self._uv.leave(self)
        self._cancel_idle()
        self._deadlines.stop()
        self._waiting.clear()
        if self._successor is not None:  # made, but the transport still delivered to us
            self._successor.connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._last_request:
            return
        self._cancel_idle()
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade as upgrade:
            if self._replay is not None:  # the rest is the upgraded protocol's, raw
                self._forward(data[upgrade.args[0] :] if upgrade.args else b"")
                self._in_message = False
                self._hand_off()
        except httptools.HttpParserError:
            # After the last request the parser refuses whatever follows ("Data after Connection:
            # close"): not the client's request, so not answered; the purchases before it are.
            if not self._last_request:
                self._malformed_bytes()
        else:
            if self._replay is not None:
                self._hand_off()

    def pause_writing(self) -> None:
        if self._successor is not None:
            self._successor.pause_writing()
        elif self._transport is not None:
            self._transport.pause_reading()
            self._reading_paused = True

    def resume_writing(self) -> None:
        if self._successor is not None:
            self._successor.resume_writing()
        elif self._transport is not None and not self._transport.is_closing():
            self._reading_paused = False
            self._transport.resume_reading()

    # -- uvicorn's server calls this on a graceful stop ------------------------------------------------

    def shutdown(self) -> None:
        if self._serving or self._waiting:
            self._closing = True
        elif self._transport is not None:
            self._transport.close()

    # -- httptools callbacks -------------------------------------------------------------------------

    def on_message_begin(self) -> None:
        self._deadlines.request_begun()
        self._in_message = True
        self._url = b""
        self._headers = []
        self._item_id = None
        self._queue_item = None
        self._authorization = None
        self._key = None
        self._forwarded_for = None
        self._chunked = False
        self._expect_continue = False
        self._body = []
        self._body_size = 0

    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name, value))
        lowered = name.lower()
        if lowered == b"authorization":
            self._authorization = value
        elif lowered == b"idempotency-key":
            self._key = value
        elif lowered == b"transfer-encoding":
            self._chunked = b"chunked" in value.lower()
        elif lowered == b"expect":
            self._expect_continue = value.lower() == b"100-continue"
        elif lowered == b"x-forwarded-for" and self._proxied:  # sent twice: one list, in order
            seen = self._forwarded_for
            self._forwarded_for = value if seen is None else seen + b"," + value

    def on_headers_complete(self) -> None:
        self._deadlines.headers_done()
        parser = self._parser
        method = parser.get_method()
        if self._replay is None and method == b"POST":
            match = BUY_URL.match(self._url)
            if match is not None:
                self._item_id = match.group(1)
                if self._expect_continue:
                    if self._serving or self._waiting:
                        self._owe_continue = True  # after the answers ahead of it, in order
                    else:
                        self._continue()
                return
        if self._replay is None and method in (b"GET", b"POST") and not self._expect_continue:
            match = QUEUE_URL.match(self._url)
            if match is not None and int(match.group(1)) <= MAX_ITEM_ID:
                self._queue_item = int(match.group(1))
                return
        # Not a purchase: from here on this connection belongs to uvicorn.
        self._to_uvicorn()

    def _to_uvicorn(self) -> None:
        """The request being read is uvicorn's, and so is the connection from here on: its head goes on
        rebuilt (its body follows as it comes)."""
        if self._replay is None:
            self._replay = []
        parser = self._parser
        head = [parser.get_method(), b" ", self._url, b" HTTP/", parser.get_http_version().encode(), b"\r\n"]
        for name, value in self._headers:
            head += (name, b": ", value, b"\r\n")
        head.append(b"\r\n")
        self._forward(b"".join(head))

    def on_body(self, body: bytes) -> None:
        self._deadlines.body_received(len(body))
        if self._queue_item is not None:
            self._body.append(body)
            self._body_size += len(body)
            if self._body_size <= LONGEST_EMPTY:
                return
            # Not an empty join: the route reads it. What came of the body so far goes on with the head.
            self._queue_item = None
            held, self._body = b"".join(self._body), []
            self._to_uvicorn()
            body = held
        if self._item_id is None:
            if self._replay is not None:  # replayed as it came; a chunked body is chunked again
                self._forward(b"%x\r\n%b\r\n" % (len(body), body) if self._chunked else body)
            return
        self._body_size += len(body)
        if self._body_size <= MAX_BODY:
            self._body.append(body)

    def on_message_complete(self) -> None:
        self._deadlines.request_done()
        self._in_message = False
        if not self._parser.should_keep_alive():
            self._stop_reading()
        if self._queue_item is not None:
            self._queue_asked()
            return
        if self._item_id is None:
            if self._replay is not None and self._chunked:
                self._forward(b"0\r\n\r\n")
            return
        self._waiting.append(
            Received(
                self._item_id,
                self._authorization,
                self._key,
                b"".join(self._body),
                self._body_size > MAX_BODY,
                self._parser.should_keep_alive(),
                self._client(),
            )
        )
        if not self._serving:
            self._serve_next()
        elif len(self._waiting) >= MAX_PIPELINED and self._transport is not None:
            self._transport.pause_reading()  # a client pipelining ahead of us waits in its own buffer
            self._reading_paused = True

    def _queue_asked(self) -> None:
        """A join or poll read whole: the edge's to answer when it is the common case (a buyer's valid
        token, no body to read), else uvicorn's, as if it had gone there from its head."""
        assert self._queue_item is not None
        item_id, self._queue_item = self._queue_item, None
        body = b"".join(self._body)
        ctx = self._ctx
        who = None
        if ctx is not None and empty_join(body, self._header(b"content-type")):
            who = buyer_of(ctx, self._authorization)
        if who is None:
            self._to_uvicorn()
            if body:
                self._forward(b"%x\r\n%b\r\n0\r\n\r\n" % (len(body), body) if self._chunked else body)
            elif self._chunked:
                self._forward(b"0\r\n\r\n")
            return
        ask = QueueAsk(
            item_id,
            who,
            self._parser.get_method() == b"POST",
            self._client(),
            (self._header(b"if-none-match") or b"").decode("latin-1") or None,
        )
        self._waiting.append(Asked(ask, self._parser.should_keep_alive()))
        if not self._serving:
            self._serve_next()

    def _header(self, name: bytes) -> bytes | None:
        """The first header of that (lower-case) name in the request being read."""
        return next((value for key, value in self._headers if key.lower() == name), None)

    # -- answering purchases ---------------------------------------------------------------------------

    def _serve_next(self) -> None:
        if self._lost:
            self._serving = False
            return
        if self._reading_paused and len(self._waiting) < MAX_PIPELINED and self._transport is not None:
            self._reading_paused = False
            self._transport.resume_reading()
        if not self._waiting:
            self._serving = False
            if self._malformed:
                self._bad_request()
            elif self._closing:
                if self._transport is not None:
                    self._transport.close()
            elif self._replay is not None:
                self._hand_off()
            else:
                if self._owe_continue:
                    self._continue()
                self._arm_idle()
            return
        self._serving = True
        asked = self._waiting.popleft()
        if isinstance(asked, Asked):
            self._uv.track(self._loop.create_task(self._answer_queue(asked)))
        else:
            self._uv.track(self._loop.create_task(self._answer(asked)))

    async def _answer_queue(self, asked: Asked) -> None:
        ctx = self._ctx
        assert ctx is not None  # without one, connection_made handed the connection off
        ask = asked.ask
        started = time.perf_counter()
        try:
            answer = await answer_queue(ctx, ask)
            self._write(answer, asked.keep_alive)
            self._uv.count_request()
            method = "POST" if ask.join else "GET"
            metrics.observe_request(QUEUE_ROUTE, method, answer.status, time.perf_counter() - started)
        finally:
            self._serve_next()

    async def _answer(self, purchase: Received) -> None:
        ctx = self._ctx
        assert ctx is not None  # without one, connection_made handed the connection off
        started = time.perf_counter()
        try:
            answer = await answer_purchase(
                ctx,
                purchase.item_id,
                purchase.authorization,
                purchase.key,
                purchase.body,
                purchase.too_large,
                purchase.address,
            )
            self._write(answer, purchase.keep_alive)
            self._uv.count_request()
            metrics.observe_request(BUY_ROUTE, "POST", answer.status, time.perf_counter() - started)
        finally:
            self._serve_next()

    def _write(self, answer: Answer, keep_alive: bool) -> None:
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        status, body = answer.status, answer.body
        if status == 304:  # no body, so neither its type nor its length
            parts = [b"HTTP/1.1 304 Not Modified\r\n"]
        else:
            parts = [b"HTTP/1.1 %d %b%b%d\r\n" % (status, REASONS.get(status, b""), _JSON_HEAD, len(body))]
        for name, value in answer.headers:
            parts += (name.encode("latin-1"), b": ", value.encode("latin-1"), b"\r\n")
        if not keep_alive or self._closing:
            parts.append(b"connection: close\r\n")
            self._closing = True
            self._waiting.clear()
        parts += (b"\r\n", body)
        transport.write(b"".join(parts))

    # -- plumbing ------------------------------------------------------------------------------------

    def _client(self) -> str | None:
        if not self._proxied or self._forwarded_for is None or self._ctx is None:
            return self._address
        return trusted_proxies(self._ctx.settings.forwarded_allow_ips).client(
            self._address, self._forwarded_for
        )

    def _continue(self) -> None:
        self._owe_continue = False
        if self._transport is not None:
            self._transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    def _forward(self, data: bytes) -> None:
        """Rebuilt bytes of requests that go to uvicorn: straight to its protocol once it exists."""
        if self._successor is not None:
            self._successor.data_received(data)
        elif self._replay is not None:
            self._replay.append(data)

    def _hand_off(self) -> None:
        """Give the connection to uvicorn, in two steps. Once every purchase received before the first
        other request has been answered, uvicorn's protocol is made and sees the rebuilt bytes so far.
        Once our parser is between two requests, the transport delivers to it directly; until then a
        request cut across reads goes on through our parser, rebuilt, so its framing stays whole."""
        if self._lost or self._handed_off or self._transport is None:
            return
        if self._successor is None:
            if self._serving or self._waiting or self._closing:
                return
            self._uv.leave(self)
            self._cancel_idle()
            self._deadlines.stop()  # the successor keeps its own from here on
            if self._reading_paused:  # uvicorn's protocol would never know to resume
                self._reading_paused = False
                self._transport.resume_reading()
            self._successor = self._uv.successor()
            self._successor.connection_made(self._transport)
            replay, self._replay = b"".join(self._replay or ()), []
            if replay:
                self._successor.data_received(replay)
        if self._in_message:
            return
        self._handed_off = True
        self._transport.set_protocol(self._successor)
        self._parser = _Discard()  # type: ignore[assignment]

    def _stop_reading(self) -> None:
        """No request after this one will be read; the bytes already in hand are dropped."""
        self._last_request = True
        if self._transport is not None and not self._reading_paused and self._successor is None:
            self._transport.pause_reading()
            self._reading_paused = True

    def _malformed_bytes(self) -> None:
        """Bytes that are no HTTP request: a 400 and the connection closed, after the answers to the
        purchases received before them, which were made and must be told."""
        if self._serving or self._waiting:
            self._malformed = True
            self._stop_reading()
        else:
            self._bad_request()

    def _bad_request(self) -> None:
        if self._transport is None:
            return
        self._malformed = False
        self._write(BAD_REQUEST, keep_alive=False)
        self._transport.close()

    def _too_slow(self) -> None:
        """A deadline missed (headers late, body too slow): close; nothing is owed to a request that
        never arrived whole. Purchases already received are still being answered: their answers are
        lost with the connection, as with any client that goes away, and the retry with the same
        Idempotency-Key gets the order."""
        if self._transport is not None and not self._transport.is_closing():
            self._transport.close()

    def _arm_idle(self) -> None:
        self._idle = self._loop.call_later(self._uv.keep_alive_timeout, self._close_idle)

    def _cancel_idle(self) -> None:
        if self._idle is not None:
            self._idle.cancel()
            self._idle = None

    def _close_idle(self) -> None:
        self._idle = None
        if self._transport is not None and not self._serving and not self._waiting:
            self._transport.close()


class _Discard:
    """Stands in for the parser after a hand-off: nothing more reaches this protocol."""

    def feed_data(self, data: bytes) -> None:
        return None
