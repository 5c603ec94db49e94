"""The three buy lanes give the same answer to the same bytes.

One table of purchase requests, odd ones and valid ones, is sent over raw sockets to three real servers
sharing one service context: the buy edge (``flashport serve``), uvicorn's own protocol with the ASGI
fast lane, and uvicorn with the documented FastAPI route alone. For each row the three statuses,
JSON bodies and the headers that carry meaning must be identical, and match what the row expects.
Each lane buys as its own buyer, so the rows that buy leave every lane in the same state.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
import uvicorn

from flashport.api.buy.edge import BuyEdge
from flashport.app import create_app
from flashport.domain.accounts import Role
from flashport.services.context import Context
from flashport.services.sales import buying
from tests.factories import make_user
from tests.sale_builder import make_buyers, make_sale
from tests.servers import running

TIMEOUT = 5.0
LANES = ("edge", "fast-lane", "route")
OWN = {"id", "order_no", "created_at", "payment_deadline"}  # differ between any two orders
MEANINGFUL_HEADERS = ("content-type", "www-authenticate", "retry-after")


@dataclass(frozen=True)
class Wire:
    """What one row sends; ``token`` None sends no Authorization header, ``"<buyer>"`` the lane's
    buyer's token, ``"<operator>"`` an operator's."""

    body: bytes | None = b'{"quantity": 1}'
    key: bytes | None = b"k"
    token: str | None = "<buyer>"
    item: str = "<item>"
    content_type: str | None = "application/json"
    chunked: bool = False

    def bytes_for(self, item_id: int, tokens: dict[str, str]) -> bytes:
        item = self.item.replace("<item>", str(item_id)).replace(
            "<first-digit-escaped>", _escape_first(item_id)
        )
        head = [f"POST /api/v1/sale-items/{item}/buy HTTP/1.1".encode(), b"Host: lanes.test"]
        if self.token is not None:
            head.append(b"Authorization: " + tokens.get(self.token, self.token).encode())
        if self.key is not None:
            head.append(b"Idempotency-Key: " + self.key)
        if self.content_type is not None:
            head.append(f"Content-Type: {self.content_type}".encode())
        payload = b""
        if self.body is not None and self.chunked:
            head.append(b"Transfer-Encoding: chunked")
            half = len(self.body) // 2
            pieces = [self.body[:half], self.body[half:]]
            payload = b"".join(b"%x\r\n%b\r\n" % (len(p), p) for p in pieces) + b"0\r\n\r\n"
        elif self.body is not None:
            head.append(b"Content-Length: %d" % len(self.body))
            payload = self.body
        return b"\r\n".join([*head, b"", b""]) + payload


def _escape_first(item_id: int) -> str:
    digits = str(item_id)
    return f"%{ord(digits[0]):02X}{digits[1:]}"


def q(value: str) -> bytes:
    return b'{"quantity": %b}' % value.encode()


# (name, what is sent, expected status, expected code or None for an order). Rows run in this order;
# the buying rows count against a limit of 8 units per buyer.
ROWS: list[tuple[str, Wire, int, str | None]] = [
    ("invalid JSON", Wire(body=b'{"quantity": '), 422, "validation_error"),
    ("quantity as a string", Wire(body=q('"2"')), 422, "validation_error"),
    ("quantity as a float", Wire(body=q("2.0")), 422, "validation_error"),
    ("quantity as a boolean", Wire(body=q("true")), 422, "validation_error"),
    ("quantity null", Wire(body=q("null")), 422, "validation_error"),
    ("quantity zero", Wire(body=q("0")), 422, "invalid_quantity"),
    ("quantity negative", Wire(body=q("-1")), 422, "invalid_quantity"),
    ("quantity over the per-order maximum", Wire(body=q("100")), 422, "invalid_quantity"),
    ("quantity beyond 64 bits", Wire(body=q("1" + "0" * 30)), 422, "invalid_quantity"),
    ("quantity NaN", Wire(body=q("NaN")), 422, "validation_error"),
    ("body null", Wire(body=b"null"), 422, "validation_error"),
    ("body an array", Wire(body=b"[1]"), 422, "validation_error"),
    ("body a bare number", Wire(body=b"1"), 422, "validation_error"),
    ("empty body", Wire(body=b""), 422, "validation_error"),
    ("no body at all", Wire(body=None, content_type=None), 422, "validation_error"),
    ("body with a byte order mark", Wire(body=b"\xef\xbb\xbf" + q("1")), 422, "validation_error"),
    ("body not UTF-8", Wire(body=b'{"quantity": 1, "note": "\xff"}'), 422, "validation_error"),
    ("body over 4,096 bytes", Wire(body=q("1") + b" " * 5000), 422, "payload_too_large"),
    ("no Idempotency-Key", Wire(key=None), 422, "idempotency_key_required"),
    ("blank Idempotency-Key", Wire(key=b"   "), 422, "idempotency_key_required"),
    ("Idempotency-Key of 129 characters", Wire(key=b"k" * 129), 422, "invalid_idempotency_key"),
    ("Idempotency-Key not ASCII", Wire(key="ключ".encode()), 422, "invalid_idempotency_key"),
    ("Idempotency-Key with a tab", Wire(key=b"a\tb"), 422, "invalid_idempotency_key"),
    ("no token", Wire(token=None), 401, "missing_token"),
    ("not a bearer token", Wire(token="Basic dXNlcjpwYXNz"), 401, "missing_token"),
    ("bearer without a token", Wire(token="Bearer"), 401, "missing_token"),
    ("garbage token", Wire(token="Bearer not.a.token"), 401, "invalid_token"),
    ("an operator's token", Wire(token="<operator>"), 403, "forbidden_role"),
    (
        "no token and a bad body: the token is checked first",
        Wire(token=None, body=b"{"),
        401,
        "missing_token",
    ),
    ("bad item id and bad body: the id is checked first", Wire(item="x", body=b"{"), 422, "validation_error"),
    (
        "bad body and no key: the body is checked first",
        Wire(body=q('"1"'), key=None),
        422,
        "validation_error",
    ),
    ("unknown item", Wire(item="987654321"), 404, "sale_item_not_found"),
    ("item id not a number", Wire(item="abc"), 422, "validation_error"),
    ("item id negative", Wire(item="-1"), 422, "validation_error"),
    ("item id zero", Wire(item="0"), 422, "validation_error"),
    ("item id beyond 64 bits", Wire(item="9" * 25), 422, "validation_error"),
    ("item id in other digits", Wire(item="%D9%A1"), 422, "validation_error"),  # Arabic-Indic one
    ("a purchase", Wire(key=b"k-1"), 201, None),
    ("the same purchase again", Wire(key=b"k-1"), 201, None),
    ("the same key for another quantity", Wire(key=b"k-1", body=q("2")), 422, "idempotency_key_reused"),
    ("two units", Wire(key=b"k-2", body=q("2")), 201, None),
    ("an empty object buys one", Wire(key=b"k-3", body=b"{}"), 201, None),
    ("other members are ignored", Wire(key=b"k-4", body=b'{"quantity": 1, "note": "gift"}'), 201, None),
    ("the content type is not looked at", Wire(key=b"k-5", content_type="text/plain"), 201, None),
    ("a chunked body", Wire(key=b"k-6", chunked=True), 201, None),
    ("an item id with a percent-escape", Wire(key=b"k-7", item="<first-digit-escaped>"), 201, None),
    ("over the buyer's limit", Wire(key=b"k-8"), 409, "buyer_limit_reached"),
]


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes


async def exchange(port: int, wire: bytes) -> Answer:
    """One request on a fresh connection, and its answer."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(wire)
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), TIMEOUT)
        status_line, *lines = head.decode("latin-1").rstrip("\r\n").split("\r\n")
        headers = {}
        for line in lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        body = await asyncio.wait_for(reader.readexactly(int(headers["content-length"])), TIMEOUT)
        return Answer(int(status_line.split(" ")[1]), headers, body)
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


def port_of(server: uvicorn.Server) -> int:
    return int(server.servers[0].sockets[0].getsockname()[1])


@pytest.fixture
async def lanes(buy_ctx: Context) -> AsyncIterator[dict[str, int]]:
    """The port of each lane's real server, all on one context."""
    async with (
        running(create_app(ctx=buy_ctx, fast_lane=True), http=BuyEdge, stop_timeout=TIMEOUT) as edge,
        running(create_app(ctx=buy_ctx, fast_lane=True), http="httptools", stop_timeout=TIMEOUT) as fast,
        running(create_app(ctx=buy_ctx, fast_lane=False), http="httptools", stop_timeout=TIMEOUT) as route,
    ):
        yield {"edge": port_of(edge), "fast-lane": port_of(fast), "route": port_of(route)}


def comparable(answer: Answer) -> tuple[int, Any, dict[str, str | None]]:
    body = json.loads(answer.body)
    if isinstance(body, dict) and answer.status < 300:
        body = {k: v for k, v in body.items() if k not in OWN}
    return answer.status, body, {name: answer.headers.get(name) for name in MEANINGFUL_HEADERS}


async def test_every_lane_gives_the_same_answer_to_the_same_request(
    buy_ctx: Context, lanes: dict[str, int]
) -> None:
    sale = await make_sale(buy_ctx, quantity=100, limit=8)
    buyers = await make_buyers(buy_ctx, len(LANES))
    _, operator = await make_user(buy_ctx, Role.OPERATOR)

    def token_of(lane: str) -> dict[str, str]:
        return {"<buyer>": f"Bearer {buyers[LANES.index(lane)][1]}", "<operator>": f"Bearer {operator}"}

    mismatches = []
    for name, wire, status, code in ROWS:
        answers = {
            lane: await exchange(lanes[lane], wire.bytes_for(sale.item_id, token_of(lane))) for lane in LANES
        }
        seen = {lane: comparable(answer) for lane, answer in answers.items()}
        if len({json.dumps(s, sort_keys=True) for s in seen.values()}) != 1:
            mismatches.append((name, seen))
            continue
        edge = answers["edge"]
        got = json.loads(edge.body)
        assert edge.status == status, (name, got)
        assert edge.headers["content-type"] == "application/json", name
        if code is None:
            assert got["sale_item_id"] == sale.item_id, name
        else:
            assert (got["code"], type(got["message"]), type(got["details"])) == (code, str, list), name
            assert edge.headers.get("www-authenticate") == ("Bearer" if status == 401 else None), name
    assert mismatches == []
    remaining = await buy_ctx.stock.remaining([sale.item_id])  # type: ignore[union-attr]
    assert remaining == {sale.item_id: 100 - 8 * len(LANES)}


async def test_an_unforeseen_failure_is_the_same_logged_500_on_every_lane(
    buy_ctx: Context, lanes: dict[str, int], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    sale = await make_sale(buy_ctx)
    buyers = await make_buyers(buy_ctx, len(LANES))

    async def broken(*_: object) -> buying.Purchase:
        raise RuntimeError("a bug, not a refusal")

    monkeypatch.setattr(buying, "buy", broken)
    answers = {}
    for lane, (_, token) in zip(LANES, buyers, strict=True):
        wire = Wire(key=b"k").bytes_for(sale.item_id, {"<buyer>": f"Bearer {token}"})
        answers[lane] = comparable(await exchange(lanes[lane], wire))
    assert answers["edge"] == answers["fast-lane"] == answers["route"]
    status, body, _ = answers["edge"]
    assert (status, body["code"]) == (500, "internal_error")
    assert "a bug" not in json.dumps(body)  # the cause is logged, not told
    failures = [r for r in caplog.records if r.exc_info and "a bug, not a refusal" in str(r.exc_info[1])]
    assert len(failures) == len(LANES)
