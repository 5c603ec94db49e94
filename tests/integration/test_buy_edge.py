"""The buy edge (``api/buy/edge.py``) over raw sockets: the bytes on the wire are written by hand, so
pipelining, chunking, ``Expect`` and connection closing are exactly what each test says.

Answers written by the edge itself carry no ``server`` header; uvicorn adds ``server: uvicorn`` to every
answer, which is how these tests tell which side of the hand-off answered. Tests about HTTP plumbing
run on SQLite with the SQL stock engine; those about purchases and the hand-off run on both stock
engines.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import time
import uuid
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from flashport.adapters.db import migrate
from flashport.adapters.db.schema import orders
from flashport.api.buy.edge import BuyEdge
from flashport.api.buy.uvicorn_glue import GuardedHttpToolsProtocol
from flashport.app import create_app
from flashport.bootstrap import build_context, close_context
from flashport.domain.accounts import Role
from flashport.services.context import Context
from flashport.services.sales import buying
from flashport.settings import Settings
from tests.factories import auth, make_user
from tests.sale_builder import make_buyers, make_sale
from tests.servers import running

TIMEOUT = 5.0  # seconds any single read may take before the test fails instead of hanging

# HTTP plumbing: one stock engine is enough (the cheaper one). Tests not marked run on both.
plumbing = pytest.mark.parametrize("buy_ctx", ["sql"], indirect=True)


@pytest.fixture(scope="module")
def database_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Overrides conftest's for this module: SQLite only. The edge is HTTP plumbing in front of the
    same service; the storage backends are covered by the buy-path tests."""
    settings = Settings(env="test", data_dir=tmp_path_factory.mktemp("data-edge"), rate_limits=False)
    migrate.upgrade(settings)
    return settings


# -- a real uvicorn server with the edge installed ----------------------------------------------------


def edge_server(app: Any, **options: Any) -> contextlib.AbstractAsyncContextManager[uvicorn.Server]:
    """A real server with the edge installed; a graceful stop that hangs is forced after a few seconds."""
    return running(app, http=BuyEdge, stop_timeout=TIMEOUT, **options)


def port_of(server: uvicorn.Server) -> int:
    return int(server.servers[0].sockets[0].getsockname()[1])


@pytest.fixture
async def edge(buy_ctx: Context) -> AsyncIterator[int]:
    """The port of a real server running the platform's app behind the buy edge (``flashport serve``)."""
    async with edge_server(create_app(ctx=buy_ctx, fast_lane=True)) as server:
        yield port_of(server)


# -- raw HTTP/1.1 ---------------------------------------------------------------------------------------


def request(
    method: str,
    path: str,
    *,
    token: str | None = None,
    key: str | None = None,
    body: bytes | None = None,
    chunks: Iterable[bytes] | None = None,
    headers: Iterable[tuple[str, str]] = (),
    version: str = "1.1",
) -> bytes:
    """One request as bytes: a ``body`` goes with a content-length, ``chunks`` chunked."""
    lines = [f"{method} {path} HTTP/{version}", "Host: edge.test"]
    if token is not None:
        lines.append(f"Authorization: Bearer {token}")
    if key is not None:
        lines.append(f"Idempotency-Key: {key}")
    lines += [f"{name}: {value}" for name, value in headers]
    payload = b""
    if chunks is not None:
        lines += ["Content-Type: application/json", "Transfer-Encoding: chunked"]
        payload = b"".join(b"%x\r\n%b\r\n" % (len(c), c) for c in chunks) + b"0\r\n\r\n"
    elif body is not None:
        lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
        payload = body
    return "\r\n".join([*lines, "", ""]).encode("latin-1") + payload


def purchase(item_id: int, token: str | None, key: str | None, quantity: int = 1, **options: Any) -> bytes:
    body = json.dumps({"quantity": quantity}).encode()
    return request("POST", f"/api/v1/sale-items/{item_id}/buy", token=token, key=key, body=body, **options)


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def by_uvicorn(self) -> bool:
        return self.headers.get("server") == "uvicorn"


class Conn:
    """One client connection; responses are read one at a time, in order."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, port: int) -> Conn:
        return cls(*await asyncio.open_connection("127.0.0.1", port))

    async def send(self, *requests: bytes) -> None:
        self.writer.write(b"".join(requests))  # one write: pipelined requests leave together
        await self.writer.drain()

    async def response(self) -> Response:
        head = await asyncio.wait_for(self.reader.readuntil(b"\r\n\r\n"), TIMEOUT)
        status_line, *header_lines = head.decode("latin-1").rstrip("\r\n").split("\r\n")
        version, status = status_line.split(" ")[:2]
        assert version in {"HTTP/1.0", "HTTP/1.1"}, status_line
        headers = {}
        for line in header_lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if int(status) < 200 or int(status) == 304:  # no body
            return Response(int(status), headers, b"")
        assert "content-length" in headers, headers
        body = await asyncio.wait_for(self.reader.readexactly(int(headers["content-length"])), TIMEOUT)
        return Response(int(status), headers, body)

    async def at_eof(self) -> bool:
        """True when the server closed the connection with nothing more to read."""
        return await asyncio.wait_for(self.reader.read(1), TIMEOUT) == b""

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(OSError):
            await self.writer.wait_closed()


@contextlib.asynccontextmanager
async def connected(port: int) -> AsyncIterator[Conn]:
    conn = await Conn.open(port)
    try:
        yield conn
    finally:
        await conn.close()


async def order_count(ctx: Context) -> int:
    async with ctx.read() as conn:
        return int(await conn.scalar(sa.select(sa.func.count()).select_from(orders)) or 0)


def hold_purchases(monkeypatch: pytest.MonkeyPatch) -> tuple[asyncio.Event, asyncio.Event]:
    """From now on each purchase sets ``entered`` and waits for ``release`` before the real service."""
    entered, release = asyncio.Event(), asyncio.Event()
    real_buy = buying.buy

    async def held_buy(*args: Any) -> buying.Purchase:
        entered.set()
        await release.wait()
        return await real_buy(*args)

    monkeypatch.setattr(buying, "buy", held_buy)
    return entered, release


# -- purchases and the hand-off, on both stock engines ------------------------------------------------------


async def test_a_purchase_answers_like_the_asgi_fast_lane_and_a_retry_returns_the_same_order(
    buy_ctx: Context, edge: int
) -> None:
    sale = await make_sale(buy_ctx, quantity=5, limit=2)
    [(_, mine), (_, other)] = await make_buyers(buy_ctx, 2)
    async with connected(edge) as conn:
        await conn.send(purchase(sale.item_id, mine, "k-1", quantity=2))
        first = await conn.response()
        await conn.send(purchase(sale.item_id, mine, "k-1", quantity=2))
        retry = await conn.response()
    assert first.status == 201, first.body
    assert not first.by_uvicorn  # the edge answered it itself
    assert (retry.status, retry.body) == (201, first.body)  # the first answer again

    lane_app = create_app(ctx=buy_ctx, fast_lane=True)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=lane_app), base_url="http://t") as lane:
        answer = await lane.post(
            f"/api/v1/sale-items/{sale.item_id}/buy",
            json={"quantity": 2},
            headers=auth(other) | {"Idempotency-Key": "k-2"},
        )
    assert answer.status_code == 201, answer.text
    assert first.headers["content-type"] == answer.headers["content-type"] == "application/json"
    edge_order, lane_order = first.json(), answer.json()
    assert edge_order.keys() == lane_order.keys()
    assert {k: type(v) for k, v in edge_order.items()} == {k: type(v) for k, v in lane_order.items()}
    own = {"id", "order_no", "created_at", "payment_deadline"}  # differ between two orders
    assert {k: v for k, v in edge_order.items() if k not in own} == {
        k: v for k, v in lane_order.items() if k not in own
    }
    assert edge_order["quantity"] == 2 and edge_order["status"] == "pending_payment"
    assert edge_order["lines"][0]["quantity"] == 2
    assert await order_count(buy_ctx) == 2
    assert (await buy_ctx.stock.remaining([sale.item_id])) == {sale.item_id: 1}


async def test_a_lookup_after_a_purchase_is_handed_to_uvicorn_and_the_connection_keeps_buying(
    buy_ctx: Context, edge: int
) -> None:
    sale = await make_sale(buy_ctx, quantity=5, limit=2)
    [(_, token)] = await make_buyers(buy_ctx, 1)
    async with connected(edge) as conn:
        await conn.send(purchase(sale.item_id, token, "k-1"))
        bought = await conn.response()
        await conn.send(request("GET", f"/api/v1/orders/{bought.json()['order_no']}", token=token))
        looked_up = await conn.response()
        await conn.send(purchase(sale.item_id, token, "k-2"))
        again = await conn.response()
    assert (bought.status, bought.by_uvicorn) == (201, False)
    assert (looked_up.status, looked_up.by_uvicorn) == (200, True), looked_up.body
    assert looked_up.json()["id"] == bought.json()["id"]
    assert (again.status, again.by_uvicorn) == (201, True), again.body  # uvicorn + the ASGI fast lane
    assert again.json()["id"] != bought.json()["id"]
    assert (await buy_ctx.stock.remaining([sale.item_id])) == {sale.item_id: 3}


async def test_pipelined_purchases_are_answered_in_order_before_the_handed_off_request(
    buy_ctx: Context, edge: int
) -> None:
    sale = await make_sale(buy_ctx, quantity=5, limit=3)
    [(_, token)] = await make_buyers(buy_ctx, 1)
    async with connected(edge) as conn:
        await conn.send(
            purchase(sale.item_id, token, "k-1", quantity=1),
            purchase(sale.item_id, token, "k-2", quantity=2),
            request("GET", "/api/v1/orders", token=token),
        )
        answers = [await conn.response() for _ in range(3)]
    assert [a.status for a in answers] == [201, 201, 200], [a.body for a in answers]
    assert [a.by_uvicorn for a in answers] == [False, False, True]
    assert [answers[0].json()["quantity"], answers[1].json()["quantity"]] == [1, 2]
    # The lookup was answered after both purchases: it lists both orders.
    listed = {o["order_no"] for o in answers[2].json()}
    assert listed == {answers[0].json()["order_no"], answers[1].json()["order_no"]}


# -- HTTP plumbing, on one combination ------------------------------------------------------------------


@plumbing
async def test_more_pipelined_purchases_than_the_queue_holds_are_all_answered_in_order(
    buy_ctx: Context, edge: int
) -> None:
    sale = await make_sale(buy_ctx, quantity=100, limit=2)
    buyers = await make_buyers(buy_ctx, 45)
    wanted = [1 + n % 2 for n in range(45)]
    burst = [purchase(sale.item_id, token, f"k-{n}", wanted[n]) for n, (_, token) in enumerate(buyers)]
    async with connected(edge) as conn:
        await conn.send(*burst[:40])  # more than MAX_PIPELINED (32): the edge stops reading for a while
        await conn.send(*burst[40:], request("GET", "/api/v1/orders", token=buyers[-1][1]))
        answers = [await conn.response() for _ in range(46)]
    assert [a.status for a in answers] == [201] * 45 + [200]
    assert [a.json()["quantity"] for a in answers[:45]] == wanted
    assert [o["order_no"] for o in answers[45].json()] == [answers[44].json()["order_no"]]
    assert await order_count(buy_ctx) == 45


@plumbing
async def test_a_handed_off_request_with_a_chunked_body_reaches_the_app_whole(edge: int) -> None:
    email = f"chunky-{uuid.uuid4().hex[:8]}@example.com"
    body = json.dumps({"email": email, "password": "correct horse", "name": "Chunky Li"}).encode()
    pieces = [body[:7], body[7:30], body[30:]]
    async with connected(edge) as conn:
        await conn.send(request("POST", "/api/v1/auth/register", chunks=pieces))
        registered = await conn.response()
    # 202 (registration answers alike for new and known addresses): the whole JSON body, name last, parsed.
    assert (registered.status, registered.by_uvicorn) == (202, True), registered.body
    assert registered.json()["email"] == email


@plumbing
async def test_a_handed_off_chunked_body_that_arrives_in_two_reads_reaches_the_app_whole(edge: int) -> None:
    email = f"split-{uuid.uuid4().hex[:8]}@example.com"
    body = json.dumps({"email": email, "password": "correct horse", "name": "Split Li"}).encode()
    wire = request("POST", "/api/v1/auth/register", chunks=[body])
    cut = wire.index(b"\r\n\r\n") + 4 + 10  # the head, the chunk size line and a few bytes of the chunk
    async with connected(edge) as conn:
        await conn.send(wire[:cut])
        await asyncio.sleep(0.1)  # the server reads the first part on its own
        await conn.send(wire[cut:])
        registered = await conn.response()
    assert registered.status == 202, registered.body
    assert registered.json()["email"] == email


@plumbing
async def test_a_request_head_half_received_while_the_hand_off_waits_is_not_lost(
    buy_ctx: Context, edge: int
) -> None:
    sale = await make_sale(buy_ctx)
    [(_, token)] = await make_buyers(buy_ctx, 1)
    second = request("GET", "/api/v1/orders", token=token)
    cut = second.index(b"Authorization")
    async with connected(edge) as conn:
        await conn.send(purchase(sale.item_id, token, "k-1"), request("GET", "/livez"), second[:cut])
        bought = await conn.response()  # answered, then the connection was handed to uvicorn
        await conn.send(second[cut:])
        alive, listed = await conn.response(), await conn.response()
    assert bought.status == 201
    assert (alive.status, alive.by_uvicorn) == (200, True)
    assert listed.status == 200, listed.body
    assert [o["order_no"] for o in listed.json()] == [bought.json()["order_no"]]


@plumbing
async def test_a_purchase_with_a_chunked_body_split_mid_chunk_is_parsed(buy_ctx: Context, edge: int) -> None:
    sale = await make_sale(buy_ctx, quantity=5, limit=2)
    [(_, token)] = await make_buyers(buy_ctx, 1)
    wire = request(
        "POST",
        f"/api/v1/sale-items/{sale.item_id}/buy",
        token=token,
        key="k",
        chunks=[b'{"quan', b'tity": 2}'],
    )
    cut = wire.index(b"quan") + 2
    async with connected(edge) as conn:
        await conn.send(wire[:cut])
        await asyncio.sleep(0.05)
        await conn.send(wire[cut:])
        bought = await conn.response()
    assert (bought.status, bought.by_uvicorn) == (201, False), bought.body
    assert bought.json()["quantity"] == 2
    assert (await buy_ctx.stock.remaining([sale.item_id])) == {sale.item_id: 3}


@plumbing
async def test_expect_100_continue_is_answered_before_the_body_is_sent(buy_ctx: Context, edge: int) -> None:
    sale = await make_sale(buy_ctx, quantity=5, limit=2)
    [(_, token)] = await make_buyers(buy_ctx, 1)
    wire = purchase(sale.item_id, token, "k", quantity=2, headers=[("Expect", "100-continue")])
    head, body = wire.split(b"\r\n\r\n", 1)
    async with connected(edge) as conn:
        await conn.send(head + b"\r\n\r\n")
        interim = await conn.response()  # before any byte of the body left
        await conn.send(body)
        bought = await conn.response()
    assert interim.status == 100
    assert bought.status == 201, bought.body
    assert bought.json()["quantity"] == 2


@plumbing
async def test_100_continue_for_a_pipelined_purchase_comes_after_the_earlier_answer(
    buy_ctx: Context, edge: int
) -> None:
    sale = await make_sale(buy_ctx, quantity=5, limit=2)
    [(_, token)] = await make_buyers(buy_ctx, 1)
    waiting = purchase(sale.item_id, token, "k-2", headers=[("Expect", "100-continue")])
    head, body = waiting.split(b"\r\n\r\n", 1)
    async with connected(edge) as conn:
        await conn.send(purchase(sale.item_id, token, "k-1"), head + b"\r\n\r\n")
        first = await conn.response()
        interim = await conn.response()
        await conn.send(body)
        second = await conn.response()
    assert [first.status, interim.status, second.status] == [201, 100, 201]


@plumbing
async def test_connection_close_and_http_1_0_purchases_are_answered_then_the_socket_is_closed(
    buy_ctx: Context, edge: int
) -> None:
    sale = await make_sale(buy_ctx, quantity=5, limit=2)
    [(_, token)] = await make_buyers(buy_ctx, 1)
    async with connected(edge) as conn:
        await conn.send(purchase(sale.item_id, token, "k-1", headers=[("Connection", "close")]))
        closed = await conn.response()
        assert await conn.at_eof()
    async with connected(edge) as conn:
        await conn.send(purchase(sale.item_id, token, "k-2", version="1.0"))
        old = await conn.response()
        assert await conn.at_eof()
    assert (closed.status, closed.headers.get("connection")) == (201, "close")
    assert (old.status, old.headers.get("connection")) == (201, "close")
    assert await order_count(buy_ctx) == 2


@plumbing
@pytest.mark.parametrize(
    "after",
    [
        pytest.param(b"GET /livez HTTP/1.1\r\nHost: edge.test\r\n\r\n", id="a-second-request"),
        pytest.param(b"\x00\x01 junk that is no request\r\n\r\n", id="junk-bytes"),
    ],
)
async def test_a_connection_close_purchase_gets_its_201_whatever_follows_it_in_the_same_write(
    buy_ctx: Context, edge: int, after: bytes
) -> None:
    sale = await make_sale(buy_ctx, quantity=5, limit=2)
    [(_, token)] = await make_buyers(buy_ctx, 1)
    async with connected(edge) as conn:
        await conn.send(purchase(sale.item_id, token, "k-1", headers=[("Connection", "close")]) + after)
        answer = await conn.response()
        assert await conn.at_eof()  # nothing after the purchase's answer: the rest was not read
    assert (answer.status, answer.headers.get("connection")) == (201, "close"), answer.body
    assert answer.json()["quantity"] == 1
    assert await order_count(buy_ctx) == 1


@plumbing
async def test_junk_after_a_keep_alive_purchase_gets_a_400_after_the_purchases_201(
    buy_ctx: Context, edge: int
) -> None:
    sale = await make_sale(buy_ctx, quantity=5, limit=2)
    [(_, token)] = await make_buyers(buy_ctx, 1)
    async with connected(edge) as conn:
        await conn.send(purchase(sale.item_id, token, "k-1") + b"GARBAGE\r\n\r\n")
        bought = await conn.response()
        refused = await conn.response()
        assert await conn.at_eof()
    assert bought.status == 201, bought.body
    assert (refused.status, refused.json()["code"]) == (400, "bad_request")
    assert await order_count(buy_ctx) == 1


@plumbing
async def test_malformed_bytes_get_a_json_400_and_the_connection_is_closed(edge: int) -> None:
    async with connected(edge) as conn:
        await conn.send(b"GARBAGE\r\n\r\n")
        answer = await conn.response()
        assert await conn.at_eof()
    assert answer.status == 400
    assert answer.headers["content-type"] == "application/json"
    assert answer.json()["code"] == "bad_request"


@plumbing
async def test_an_oversized_purchase_body_is_refused_reserves_nothing_and_keeps_the_connection(
    buy_ctx: Context, edge: int
) -> None:
    sale = await make_sale(buy_ctx, quantity=5, limit=2)
    [(_, token)] = await make_buyers(buy_ctx, 1)
    body = b'{"quantity": 1}' + b" " * 4985  # 5,000 bytes of valid JSON, over MAX_BODY (4,096)
    too_big = request("POST", f"/api/v1/sale-items/{sale.item_id}/buy", token=token, key="k", body=body)
    async with connected(edge) as conn:
        await conn.send(too_big)
        refused = await conn.response()
        orders_then = await order_count(buy_ctx)
        remaining_then = await buy_ctx.stock.remaining([sale.item_id])
        await conn.send(purchase(sale.item_id, token, "k-ok"))  # the body was skipped, not left behind
        bought = await conn.response()
    lane_app = create_app(ctx=buy_ctx, fast_lane=True)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=lane_app), base_url="http://t") as lane:
        lane_answer = await lane.post(
            f"/api/v1/sale-items/{sale.item_id}/buy",
            content=body,
            headers=auth(token) | {"Idempotency-Key": "k-lane", "Content-Type": "application/json"},
        )
    assert 400 <= refused.status < 500
    assert refused.json()["code"] == "payload_too_large"
    assert (lane_answer.status_code, lane_answer.json()["code"]) == (refused.status, "payload_too_large")
    assert orders_then == 0
    assert remaining_then == {sale.item_id: 5}
    assert bought.status == 201, bought.body


@plumbing
async def test_a_missing_token_is_a_401_with_a_challenge_and_another_role_a_403(
    buy_ctx: Context, edge: int
) -> None:
    sale = await make_sale(buy_ctx)
    _, operator = await make_user(buy_ctx, Role.OPERATOR)
    async with connected(edge) as conn:
        await conn.send(purchase(sale.item_id, None, "k-1"))
        anonymous = await conn.response()
        await conn.send(purchase(sale.item_id, operator, "k-2"))
        staff = await conn.response()
    assert anonymous.status == 401
    assert anonymous.headers.get("www-authenticate") == "Bearer"
    assert anonymous.json()["code"] == "missing_token"
    assert staff.status == 403
    assert staff.json()["code"] == "forbidden_role"
    assert await order_count(buy_ctx) == 0


@plumbing
async def test_the_handed_off_connection_stays_alive_for_later_requests(buy_ctx: Context, edge: int) -> None:
    [(_, token)] = await make_buyers(buy_ctx, 1)
    async with connected(edge) as conn:
        await conn.send(request("GET", "/livez"))
        first = await conn.response()
        await conn.send(request("GET", "/api/v1/orders", token=token))
        second = await conn.response()
        await conn.send(request("GET", "/livez"), request("GET", "/api/v1/orders"))  # pipelined
        third, fourth = await conn.response(), await conn.response()
    assert [a.status for a in (first, second, third, fourth)] == [200, 200, 200, 401]
    assert all(a.by_uvicorn for a in (first, second, third, fourth))
    assert second.json() == []


async def test_without_a_context_in_the_lifespan_state_uvicorn_serves_even_purchases() -> None:
    async def buy_here(request: Request) -> JSONResponse:
        return JSONResponse({"served_by": "app", "item": request.path_params["item_id"]}, status_code=202)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield  # no state: the edge finds no context

    app = Starlette(
        routes=[Route("/api/v1/sale-items/{item_id:int}/buy", buy_here, methods=["POST"])], lifespan=lifespan
    )
    async with edge_server(app) as server, connected(port_of(server)) as conn:
        await conn.send(purchase(7, "no-token", "k-1"))
        first = await conn.response()
        await conn.send(purchase(8, None, None))
        second = await conn.response()
    assert (first.status, first.by_uvicorn, first.json()) == (202, True, {"served_by": "app", "item": 7})
    assert (second.status, second.json()) == (202, {"served_by": "app", "item": 8})


@plumbing
async def test_an_idle_keep_alive_connection_is_closed_after_uvicorns_timeout(buy_ctx: Context) -> None:
    sale = await make_sale(buy_ctx)
    [(_, token)] = await make_buyers(buy_ctx, 1)
    app = create_app(ctx=buy_ctx, fast_lane=True)
    async with edge_server(app, timeout_keep_alive=1) as server, connected(port_of(server)) as conn:
        await conn.send(purchase(sale.item_id, token, "k"))
        bought = await conn.response()
        answered = time.monotonic()
        assert await conn.at_eof()
        idle = time.monotonic() - answered
    assert bought.status == 201
    assert "connection" not in bought.headers  # kept alive, until the idle timeout
    assert 0.8 <= idle < 3


@plumbing
async def test_a_graceful_stop_closes_idle_connections_and_finishes_a_purchase_in_flight(
    buy_ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    sale = await make_sale(buy_ctx)
    [(_, token), (_, other)] = await make_buyers(buy_ctx, 2)
    app = create_app(ctx=buy_ctx, fast_lane=True)
    # An idle timeout far beyond the test's patience: a connection that closes was closed by the stop.
    async with (
        edge_server(app, timeout_keep_alive=3600) as server,
        connected(port_of(server)) as idle,
        connected(port_of(server)) as busy,
    ):
        await idle.send(purchase(sale.item_id, token, "k-idle"))
        assert (await idle.response()).status == 201
        entered, release = hold_purchases(monkeypatch)
        await busy.send(purchase(sale.item_id, other, "k-busy"))
        await asyncio.wait_for(entered.wait(), TIMEOUT)
        server.should_exit = True
        assert await idle.at_eof()  # closed by the stop, not by the idle timeout
        release.set()
        finished = await busy.response()
        assert await busy.at_eof()
    assert (finished.status, finished.headers.get("connection")) == (201, "close")
    assert await order_count(buy_ctx) == 2


@plumbing
async def test_a_client_leaving_before_a_pending_hand_off_leaves_no_connection_behind(
    buy_ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    sale = await make_sale(buy_ctx)
    [(_, token)] = await make_buyers(buy_ctx, 1)
    entered, release = hold_purchases(monkeypatch)
    loop = asyncio.get_running_loop()
    reported: list[dict[str, Any]] = []  # errors of the server's tasks, kept out of anyio's runner
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: reported.append(context))
    app = create_app(ctx=buy_ctx, fast_lane=True)
    try:
        async with edge_server(app) as server:
            conn = await Conn.open(port_of(server))
            await conn.send(purchase(sale.item_id, token, "k"), request("GET", "/livez"))
            await asyncio.wait_for(entered.wait(), TIMEOUT)
            await conn.close()
            await asyncio.sleep(0.1)  # the server sees the connection go
            release.set()
            in_flight = list(server.server_state.tasks)  # the purchase's task
            assert in_flight
            await asyncio.wait(in_flight, timeout=TIMEOUT)
            await asyncio.sleep(0.05)
            left = list(server.server_state.connections)
            server.server_state.connections.clear()  # let the server stop promptly whatever happened
        gc.collect()  # a failed task reports its exception when it is collected
    finally:
        loop.set_exception_handler(previous)
    errors = [repr(c.get("exception") or c.get("message")) for c in reported]
    assert (left, errors) == ([], [])


# -- connection deadlines (api/http_deadlines.py), on the edge and on uvicorn's protocol ----------------

SHORT_DEADLINES = {
    "http_header_timeout_seconds": 0.5,
    "http_body_grace_seconds": 0.3,
    "http_body_min_rate": 100,
}
PROTOCOLS = pytest.mark.parametrize("protocol", [BuyEdge, GuardedHttpToolsProtocol], ids=["edge", "uvicorn"])


@contextlib.asynccontextmanager
async def strict_server(ctx: Context, protocol: type[asyncio.Protocol], **options: Any) -> AsyncIterator[int]:
    """A server whose settings give slow clients half a second (the app's lifespan hands them over)."""
    ctx.settings = ctx.settings.model_copy(update=SHORT_DEADLINES)
    app = create_app(ctx=ctx, fast_lane=True)
    async with running(app, http=protocol, stop_timeout=TIMEOUT, **options) as server:
        yield port_of(server)


async def trickle(conn: Conn, data: bytes, pause: float = 0.05) -> int:
    """Send ``data`` a byte at a time, ``pause`` apart (the pace is the client under test, not a wait
    for a condition); the bytes sent before the server closed the connection."""
    for sent in range(len(data)):
        try:
            conn.writer.write(data[sent : sent + 1])
            await conn.writer.drain()
        except (ConnectionError, OSError):
            return sent
        if conn.reader.at_eof():
            return sent
        await asyncio.sleep(pause)
    return len(data)


async def closed_by_server(conn: Conn) -> bool:
    """The server closed the connection: an end of file, a reset when it closed with bytes of ours
    still unread (the kernel's answer to that), or a broken pipe when a byte of ours was still being
    written to it (a trickle's write on a loaded machine can land after the close)."""
    try:
        return await conn.at_eof()
    except (ConnectionResetError, BrokenPipeError):
        return True


async def closed_after(conn: Conn, since: float) -> float:
    assert await closed_by_server(conn)
    return time.monotonic() - since


@plumbing
@PROTOCOLS
async def test_a_connection_that_never_sends_a_byte_is_closed_after_the_header_timeout(
    buy_ctx: Context, protocol: type[asyncio.Protocol]
) -> None:
    async with strict_server(buy_ctx, protocol) as port, connected(port) as conn:
        opened = time.monotonic()
        waited = await closed_after(conn, opened)
    assert waited >= 0.5


@plumbing
@PROTOCOLS
async def test_headers_that_stop_halfway_are_closed_after_the_header_timeout(
    buy_ctx: Context, protocol: type[asyncio.Protocol]
) -> None:
    async with strict_server(buy_ctx, protocol) as port, connected(port) as conn:
        await conn.send(b"POST /api/v1/sale-items/1/buy HTTP/1.1\r\nHost: edge.test\r\nAuthorization: Bea")
        waited = await closed_after(conn, time.monotonic())
    assert waited > 0


@plumbing
@PROTOCOLS
async def test_headers_trickling_in_a_byte_at_a_time_are_cut_off_at_the_header_timeout(
    buy_ctx: Context, protocol: type[asyncio.Protocol]
) -> None:
    head = b"GET /livez HTTP/1.1\r\nHost: edge.test\r\nX-Slow: " + b"s" * 200 + b"\r\n\r\n"
    async with strict_server(buy_ctx, protocol) as port, connected(port) as conn:
        sent = await asyncio.wait_for(trickle(conn, head), TIMEOUT * 3)
        assert await closed_by_server(conn)
    assert sent < len(head)  # cut off long before the last byte (about 12 s at this pace)


@plumbing
@PROTOCOLS
@pytest.mark.parametrize(
    "path", ["/api/v1/sale-items/1/buy", "/api/v1/auth/login"], ids=["purchase", "handed-off"]
)
async def test_a_body_slower_than_the_minimum_rate_is_cut_off(
    buy_ctx: Context, protocol: type[asyncio.Protocol], path: str
) -> None:
    body = b'{"quantity": 1' + b" " * 300 + b"}"
    head = f"POST {path} HTTP/1.1\r\nHost: edge.test\r\nContent-Type: application/json\r\n"
    head += f"Idempotency-Key: k\r\nContent-Length: {len(body)}\r\n\r\n"
    async with strict_server(buy_ctx, protocol) as port, connected(port) as conn:
        await conn.send(head.encode())  # headers in time; then about 20 bytes a second, under 100
        sent = await asyncio.wait_for(trickle(conn, body), TIMEOUT * 3)
        assert await closed_by_server(conn)
    assert sent < len(body)
    assert await order_count(buy_ctx) == 0


@plumbing
@PROTOCOLS
async def test_an_idle_connection_after_a_handed_off_request_is_closed_after_the_keep_alive_timeout(
    buy_ctx: Context, protocol: type[asyncio.Protocol]
) -> None:
    async with strict_server(buy_ctx, protocol, timeout_keep_alive=1) as port, connected(port) as conn:
        await conn.send(request("GET", "/livez"))
        answer = await conn.response()
        waited = await closed_after(conn, time.monotonic())
    assert answer.status == 200
    assert 0.8 <= waited < 3


@pytest.mark.parametrize(
    ("trusted", "second"),
    [("127.0.0.1", 201), ("10.9.8.7", 429), ("", 429)],
    ids=["behind a trusted proxy", "from a proxy not trusted", "no proxy trusted"],
)
async def test_the_per_address_limit_counts_the_client_a_trusted_proxy_names(
    buy_ctx: Context, trusted: str, second: int
) -> None:
    """Behind a load balancer every purchase comes from its address: the edge takes the client from
    ``X-Forwarded-For`` when the peer is a proxy ``FLASHPORT_FORWARDED_ALLOW_IPS`` names (the last
    address that is not a trusted proxy), and ignores the header from anyone else."""
    settings = buy_ctx.settings.model_copy(
        update={
            "rate_limits": True,
            "rate_buy_address": "1/3600",
            "rate_buy_account": "100/10",
            "forwarded_allow_ips": trusted,
        }
    )
    ctx = await build_context(settings, listen_for_restock=False)
    try:
        sale = await make_sale(ctx, quantity=5)
        [(_, a), (_, b), (_, c)] = await make_buyers(ctx, 3)
        tag = uuid.uuid4().int % 250 + 1  # addresses of this run only (the buckets outlive a test in Redis)

        def via(client: str) -> list[tuple[str, str]]:
            return [("X-Forwarded-For", f"{client}, 127.0.0.1")]

        async with (
            edge_server(create_app(ctx=ctx, fast_lane=True)) as server,
            connected(port_of(server)) as conn,
        ):
            await conn.send(purchase(sale.item_id, a, "fwd-a", headers=via(f"203.0.113.{tag}")))
            first = await conn.response()
            await conn.send(purchase(sale.item_id, b, "fwd-b", headers=via(f"198.51.100.{tag}")))
            other = await conn.response()
            await conn.send(purchase(sale.item_id, c, "fwd-c", headers=via(f"203.0.113.{tag}:4711")))
            same = await conn.response()
    finally:
        await close_context(ctx)
    assert first.status == 201, first.json()
    assert other.status == second, other.json()
    assert same.status == 429 and same.json()["code"] == "rate_limited"
