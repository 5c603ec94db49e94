"""The benchmark's HTTP client: response parsing, and real sockets against a tiny asyncio server."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections import Counter
from collections.abc import AsyncIterator, Iterator

import pytest

from flashport.bench.loadgen import (
    BadResponse,
    GeneratorError,
    Target,
    Volley,
    fire,
    fire_here,
    outcome_of,
    parse_response,
    probe_request,
    purchase_request,
)

CREATED = (
    b'HTTP/1.1 201 Created\r\ncontent-type: application/json\r\ncontent-length: 17\r\n\r\n{"order_no":"A1"}'
)
SOLD_OUT_BODY = b'{"code":"sold_out","message":"gone","details":[]}'
SOLD_OUT = b"HTTP/1.1 409 Conflict\r\nContent-Length: %d\r\n\r\n%s" % (len(SOLD_OUT_BODY), SOLD_OUT_BODY)


def test_a_response_is_parsed_only_once_head_and_body_are_complete() -> None:
    assert parse_response(CREATED[:30]) is None
    assert parse_response(CREATED[:-1]) is None
    response = parse_response(CREATED + SOLD_OUT)
    assert response is not None
    assert (response.status, response.body, response.size) == (201, b'{"order_no":"A1"}', len(CREATED))
    assert response.keep_alive


def test_content_length_is_read_in_any_case_and_connection_close_is_noticed() -> None:
    raw = b"HTTP/1.1 200 OK\r\nCONTENT-LENGTH: 2\r\nConnection: close\r\n\r\nok"
    response = parse_response(raw)
    assert response is not None
    assert (response.status, response.body, response.keep_alive) == (200, b"ok", False)


def test_a_response_without_a_body_has_an_empty_one() -> None:
    response = parse_response(b"HTTP/1.1 204 No Content\r\nserver: x\r\n\r\n")
    assert response is not None
    assert (response.status, response.body) == (204, b"")


@pytest.mark.parametrize(
    "raw",
    [b"SMTP ready\r\n\r\n", b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n"],
)
def test_what_a_json_api_does_not_send_is_refused(raw: bytes) -> None:
    with pytest.raises(BadResponse):
        parse_response(raw)


def test_an_error_answer_is_counted_under_its_error_code() -> None:
    assert outcome_of(201, b"{}") == "201"
    assert outcome_of(409, SOLD_OUT_BODY) == "409 sold_out"
    assert outcome_of(502, b"<html>bad gateway</html>") == "502"
    assert outcome_of(500, b"[1]") == "500"


def test_a_purchase_request_is_complete_http() -> None:
    raw = purchase_request(Target("127.0.0.1", 8000), 42, "tok.en.sig", "bench-ab-7")
    head, body = raw.split(b"\r\n\r\n")
    assert head.startswith(b"POST /api/v1/sale-items/42/buy HTTP/1.1\r\n")
    assert b"\r\nAuthorization: Bearer tok.en.sig" in head
    assert b"\r\nIdempotency-Key: bench-ab-7" in head
    assert b"\r\nContent-Length: %d" % len(body) in head
    assert body == b'{"quantity": 1}'


def test_only_plain_http_urls_are_targets() -> None:
    assert Target.from_url("http://localhost") == Target("localhost", 80)
    with pytest.raises(ValueError):
        Target.from_url("https://localhost:8443")


class TinyServer:
    """Alternates 201 and 409 on each connection, sends every answer in two pieces (so the client meets
    half a response), and closes each connection after its fifth answer (so the client must reconnect)."""

    def __init__(self) -> None:
        self.sent: Counter[str] = Counter()
        self.connections = 0

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        for served in range(1, 6):
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except asyncio.IncompleteReadError:
                break  # the client had nothing more to send
            await reader.readexactly(_content_length(head))
            answer, outcome = (CREATED, "201") if served % 2 else (SOLD_OUT, "409 sold_out")
            if served == 5:
                answer = answer.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n", 1)
            writer.write(answer[:20])
            await writer.drain()
            await asyncio.sleep(0)
            writer.write(answer[20:])
            await writer.drain()
            self.sent[outcome] += 1
        writer.close()


def _content_length(head: bytes) -> int:
    for line in head.lower().split(b"\r\n"):
        if line.startswith(b"content-length:"):
            return int(line.split(b":")[1])
    return 0


@pytest.fixture
async def tiny_server() -> AsyncIterator[tuple[Target, TinyServer]]:
    tiny = TinyServer()
    server = await asyncio.start_server(tiny.serve, "127.0.0.1", 0)
    async with server:
        yield Target("127.0.0.1", server.sockets[0].getsockname()[1]), tiny


async def test_every_request_is_answered_over_keep_alive_and_reopened_connections(
    tiny_server: tuple[Target, TinyServer],
) -> None:
    target, tiny = tiny_server
    volley = Volley([purchase_request(target, 1, f"token{n}", f"key{n}") for n in range(60)])
    await asyncio.wait_for(fire_here(target, volley, connections=4), timeout=5)
    firing = volley.firing
    assert volley.answered == 60
    assert firing.outcomes == tiny.sent
    assert volley.succeeded == tiny.sent["201"]
    assert tiny.connections >= 12  # at most 5 answers per connection
    assert all(latency > 0 for latency in firing.latency_ns)
    assert sorted(set(firing.status)) == [201, 409]


async def test_an_unreachable_server_is_an_error_not_a_silent_run() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    with pytest.raises(GeneratorError):
        await fire_here(Target("127.0.0.1", closed_port), Volley([b"GET / HTTP/1.1\r\n\r\n"]), connections=1)


@pytest.fixture
def server_in_a_thread() -> Iterator[tuple[Target, TinyServer]]:
    """For ``fire``, which blocks its caller while worker processes send."""
    tiny = TinyServer()
    loop = asyncio.new_event_loop()
    server = loop.run_until_complete(asyncio.start_server(tiny.serve, "127.0.0.1", 0))
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield Target("127.0.0.1", server.sockets[0].getsockname()[1]), tiny
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=2)
        server.close()
        loop.close()


def test_worker_processes_share_the_requests_and_their_results_are_merged(
    server_in_a_thread: tuple[Target, TinyServer],
) -> None:
    target, tiny = server_in_a_thread
    seen: list[tuple[int, int]] = []
    requests = [probe_request(target)] * 40
    firing = fire(
        target,
        requests,
        connections=4,
        processes=2,
        progress=lambda answered, ok, _s: seen.append((answered, ok)),
    )
    assert len(firing.status) == 40
    assert firing.outcomes == tiny.sent
    assert firing.cpu_seconds > 0
    assert seen[-1] == (40, tiny.sent["201"])


async def test_a_connection_dropped_mid_request_counts_as_a_failed_attempt_and_is_reopened() -> None:
    connections = 0

    async def hang_up_once(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        with contextlib.suppress(asyncio.IncompleteReadError):  # the client closes when it is done
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                await reader.readexactly(_content_length(head))
                if connections == 1:
                    break  # hang up without answering
                writer.write(CREATED)
                await writer.drain()
        writer.close()

    server = await asyncio.start_server(hang_up_once, "127.0.0.1", 0)
    async with server:
        target = Target("127.0.0.1", server.sockets[0].getsockname()[1])
        volley = Volley([purchase_request(target, 1, "t", f"k{n}") for n in range(3)])
        await asyncio.wait_for(fire_here(target, volley, connections=1), timeout=5)
    assert volley.firing.outcomes == {"connection lost": 1, "201": 2}
    assert list(volley.firing.status) == [0, 201, 201]
