"""The HTTP load generator: lean keep-alive HTTP/1.1 connections on uvloop, in one or more processes.

Why not httpx or aiohttp: their per-request objects cost on the order of 100 µs of CPU, and on a 2-core
machine shared with the server, PostgreSQL and Redis that would make the generator the bottleneck. Here a
request is bytes built before the clock starts, a response costs one header scan, and the next request is
written from the protocol callback itself: no task, future or object per request.

Each connection has one request in flight (no pipelining), so a latency is what one buyer would see.
"""

from __future__ import annotations

import asyncio
import functools
import heapq
import multiprocessing
import queue
import time
from array import array
from collections import Counter
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, cast
from urllib.parse import urlsplit

import orjson

CONTENT_LENGTH = b"\r\ncontent-length:"


class GeneratorError(RuntimeError):
    """The generator could not do its job (server unreachable, worker process died)."""


@dataclass(frozen=True)
class Target:
    host: str
    port: int

    @classmethod
    def from_url(cls, url: str) -> Target:
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"expected an http://host:port URL, got {url!r} (TLS would measure TLS)")
        return cls(parts.hostname, parts.port or 80)


def purchase_request(
    target: Target, item_id: int, token: str, idempotency_key: str, quantity: int = 1
) -> bytes:
    body = b'{"quantity": %d}' % quantity
    return (
        f"POST /api/v1/sale-items/{item_id}/buy HTTP/1.1\r\n"
        f"Host: {target.host}:{target.port}\r\n"
        f"Authorization: Bearer {token}\r\n"
        f"Idempotency-Key: {idempotency_key}\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body


@dataclass(frozen=True)
class RoomBuyers:
    """Buyers who go through the item's waiting room: each joins, polls while it waits, then buys with
    the admission token its queue gave, all on its connection. Per buyer only its token and its number
    are kept; the requests are formatted when sent (a microsecond or two, no object per request beyond
    the bytes). ``address`` gives each buyer an ``X-Forwarded-For`` of its own, as buyers behind the edge
    have (believed only by a server that trusts this host as a proxy)."""

    target: Target
    item_id: int
    run_id: str
    tokens: Sequence[str]
    numbers: Sequence[int]  # each buyer's number in the whole run (its Idempotency-Key's suffix)

    def join(self, index: int) -> bytes:
        n = self.numbers[index]
        return (
            f"POST /api/v1/sale-items/{self.item_id}/queue HTTP/1.1\r\n"
            f"Host: {self.target.host}:{self.target.port}\r\n"
            f"Authorization: Bearer {self.tokens[index]}\r\n"
            f"X-Forwarded-For: 10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}\r\n"
            "Content-Length: 0\r\n\r\n"
        ).encode()

    def poll(self, index: int) -> bytes:
        return (
            f"GET /api/v1/sale-items/{self.item_id}/queue HTTP/1.1\r\n"
            f"Host: {self.target.host}:{self.target.port}\r\n"
            f"Authorization: Bearer {self.tokens[index]}\r\n\r\n"
        ).encode()

    def buy(self, index: int, admission: str) -> bytes:
        body = b'{"quantity": 1, "admission": "%s"}' % admission.encode()
        return (
            f"POST /api/v1/sale-items/{self.item_id}/buy HTTP/1.1\r\n"
            f"Host: {self.target.host}:{self.target.port}\r\n"
            f"Authorization: Bearer {self.tokens[index]}\r\n"
            f"Idempotency-Key: bench-{self.run_id}-{self.numbers[index]}\r\n"
            "Content-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode() + body

    def part(self, index: int, parts: int) -> RoomBuyers:
        """Every ``parts``-th buyer from ``index`` (one generator process's share)."""
        return RoomBuyers(
            self.target, self.item_id, self.run_id, self.tokens[index::parts], self.numbers[index::parts]
        )

    def __len__(self) -> int:
        return len(self.tokens)


def probe_request(target: Target, path: str = "/livez") -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: {target.host}:{target.port}\r\n\r\n".encode()


class Response(NamedTuple):
    status: int
    body: bytes
    size: int  # bytes of the buffer this response used
    keep_alive: bool


class BadResponse(ValueError):
    pass


def parse_response(buffer: bytes | bytearray) -> Response | None:
    """One response from the front of ``buffer``, or None while it is incomplete.

    Only what a JSON API sends is supported: a Content-Length body (or none). Chunked answers are refused
    rather than misread.
    """
    head_end = buffer.find(b"\r\n\r\n")
    if head_end < 0:
        return None
    head = bytes(buffer[:head_end]).lower()
    if not head.startswith(b"http/1.") or len(head) < 12:
        raise BadResponse(f"not an HTTP/1.x status line: {head[:40]!r}")
    status = int(head[9:12])
    start = head.find(CONTENT_LENGTH)
    if start >= 0:
        end = head.find(b"\r\n", start + len(CONTENT_LENGTH))
        length = int(head[start + len(CONTENT_LENGTH) : end if end >= 0 else len(head)])
    elif b"\r\ntransfer-encoding:" in head:
        raise BadResponse("chunked responses are not supported")
    else:
        length = 0
    body_start = head_end + 4
    if len(buffer) < body_start + length:
        return None
    keep_alive = b"\r\nconnection: close" not in head
    body = bytes(buffer[body_start : body_start + length])
    return Response(status, body, body_start + length, keep_alive)


def outcome_of(status: int, body: bytes) -> str:
    """ "201", or the status with the error code of Flashport's error shape: "409 sold_out"."""
    if status < 300:
        return str(status)
    try:
        code = orjson.loads(body).get("code")
    except (orjson.JSONDecodeError, AttributeError):
        code = None
    return f"{status} {code}" if code else str(status)


@dataclass
class Firing:
    """What the generator saw. The arrays are indexed by request; times are perf_counter_ns, which on
    Linux is CLOCK_MONOTONIC and so comparable between processes."""

    status: array[int] = field(default_factory=lambda: array("H"))
    latency_ns: array[int] = field(default_factory=lambda: array("q"))
    finished_ns: array[int] = field(default_factory=lambda: array("q"))
    # Through the waiting room: join to the last queue answer (admitted or sold out), per buyer who got one.
    # ``latency_ns`` is then the purchase's own (or, for a buyer told "sold out", the last queue answer's).
    queue_ns: array[int] = field(default_factory=lambda: array("q"))
    outcomes: Counter[str] = field(default_factory=Counter)
    cpu_seconds: float = 0.0  # the generator's own CPU time, to show it was not the bottleneck
    wall_seconds: float = 0.0

    @classmethod
    def merge(cls, parts: Sequence[Firing]) -> Firing:
        merged = cls()
        for part in parts:
            merged.status.extend(part.status)
            merged.latency_ns.extend(part.latency_ns)
            merged.finished_ns.extend(part.finished_ns)
            merged.queue_ns.extend(part.queue_ns)
            merged.outcomes.update(part.outcomes)
            merged.cpu_seconds += part.cpu_seconds
            merged.wall_seconds = max(merged.wall_seconds, part.wall_seconds)
        return merged


class Volley:
    """The requests of one process and what came back. Single-threaded: callbacks share it freely."""

    def __init__(self, requests: Sequence[bytes] | RoomBuyers) -> None:
        count = len(requests)
        self.requests = requests
        self.next_index = 0
        self.answered = 0
        self.succeeded = 0  # 2xx answers: orders created, or probes answered
        # Through the waiting room: buyers waiting for their next poll, as (due perf_counter_ns, index),
        # and when each buyer joined.
        self.parked: list[tuple[int, int]] = []
        self.joined_ns = array("q", bytes(8 * count)) if isinstance(requests, RoomBuyers) else array("q")
        self.firing = Firing(
            status=array("H", bytes(2 * count)),
            latency_ns=array("q", bytes(8 * count)),
            finished_ns=array("q", bytes(8 * count)),
        )

    def take(self) -> int:
        """The next request to send, or -1 when all are taken."""
        index = self.next_index
        if index >= len(self.requests):
            return -1
        self.next_index = index + 1
        return index

    def record(self, index: int, status: int, outcome: str, started_ns: int) -> None:
        now = time.perf_counter_ns()
        firing = self.firing
        firing.status[index] = status
        firing.latency_ns[index] = now - started_ns
        firing.finished_ns[index] = now
        firing.outcomes[outcome] += 1
        self.answered += 1
        if 200 <= status < 300:
            self.succeeded += 1


class KeepAliveConnection(asyncio.Protocol):
    """Sends the volley's requests one after another on one connection until none are left."""

    def __init__(self, volley: Volley, closed: asyncio.Future[None]) -> None:
        self._volley = volley
        self._closed = closed
        self._transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._index = -1
        self._started_ns = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)
        self._send_next()

    def _send_next(self) -> None:
        assert self._transport is not None
        self._index = self._volley.take()
        if self._index < 0:
            self._transport.close()
            return
        self._started_ns = time.perf_counter_ns()
        self._transport.write(self._first_request(self._index))

    def _first_request(self, index: int) -> bytes:
        requests = self._volley.requests
        assert not isinstance(requests, RoomBuyers)  # those go through RoomConnection
        return requests[index]

    def _answered(self, response: Response) -> bool:
        """Record the answer; False when the buyer has a next request on this connection (sent)."""
        self._volley.record(
            self._index, response.status, outcome_of(response.status, response.body), self._started_ns
        )
        return True

    def data_received(self, data: bytes) -> None:
        assert self._transport is not None
        self._buffer += data
        try:
            response = parse_response(self._buffer)
        except (BadResponse, ValueError):
            self._transport.close()  # connection_lost records the request as failed
            return
        if response is None:
            return
        del self._buffer[: response.size]
        if not self._answered(response):
            if not response.keep_alive:  # the buyer's next request goes on a new connection: lost
                self._transport.close()
            return
        self._index = -1
        if response.keep_alive:
            self._send_next()
        else:
            self._transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._index >= 0:  # a request was in flight: the buyer saw an error, not an answer
            self._volley.record(self._index, 0, "connection lost", self._started_ns)
            self._index = -1
        if not self._closed.done():
            self._closed.set_result(None)


class RoomConnection(KeepAliveConnection):
    """Buyers through the waiting room: each joins, polls at the server's ``poll_seconds`` while it
    waits, and buys with its token once admitted. A waiting buyer does not hold a connection: it is
    parked in the volley until its next poll is due, and the connection meanwhile polls for another
    parked buyer whose time has come or lets the next buyer join. (Holding the connection through the
    wait capped the bench at connections / poll interval buyers a second: 61 orders a second at 256
    connections and a 3 s wait, measured on 2026-12-03.) What is recorded per buyer is the purchase
    (status, latency) or, for a buyer told the item sold out in the queue, that answer; the queue's own
    time goes to ``queue_ns``."""

    def __init__(self, volley: Volley, closed: asyncio.Future[None]) -> None:
        super().__init__(volley, closed)
        self._buyers = cast(RoomBuyers, volley.requests)
        self._buying = False
        self._idle: asyncio.TimerHandle | None = None

    def _send_next(self) -> None:
        assert self._transport is not None
        self._idle = None
        volley = self._volley
        now = time.perf_counter_ns()
        if volley.parked and volley.parked[0][0] <= now:
            _, self._index = heapq.heappop(volley.parked)
            self._buying = False
            self._send(self._buyers.poll(self._index))
            return
        index = volley.take()
        if index >= 0:
            self._index, self._buying = index, False
            volley.joined_ns[index] = now
            self._send(self._buyers.join(index))
        elif volley.parked:  # every buyer has joined: wait for the first parked one's poll
            delay = (volley.parked[0][0] - now) / 1e9
            self._idle = asyncio.get_running_loop().call_later(max(0.0, delay), self._send_next)
        else:
            self._transport.close()

    def _answered(self, response: Response) -> bool:
        if self._buying or response.status != 200:
            return super()._answered(response)
        state = orjson.loads(response.body)
        name = state.get("state")
        volley = self._volley
        if name == "admitted":
            volley.firing.queue_ns.append(time.perf_counter_ns() - volley.joined_ns[self._index])
            self._buying = True
            self._send(self._buyers.buy(self._index, state["admission_token"]))
            return False
        if name in ("waiting", "pre_queue"):
            delay = float(state.get("poll_seconds") or 1.0)
            heapq.heappush(volley.parked, (time.perf_counter_ns() + int(delay * 1e9), self._index))
            return True  # the connection is free for another buyer meanwhile
        if name == "sold_out":
            volley.firing.queue_ns.append(time.perf_counter_ns() - volley.joined_ns[self._index])
            volley.record(self._index, 409, "409 sold_out (in the queue)", self._started_ns)
        else:  # a challenge (the server does not believe the bench's addresses), not joined, ...
            volley.record(self._index, 0, f"queue {name}", self._started_ns)
        return True

    def _send(self, request: bytes) -> None:
        assert self._transport is not None
        self._started_ns = time.perf_counter_ns()
        self._transport.write(request)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._idle is not None:
            self._idle.cancel()
            self._idle = None
        super().connection_lost(exc)


async def fire_here(target: Target, volley: Volley, connections: int) -> None:
    """Send the volley's requests over ``connections`` keep-alive connections in this event loop."""
    requests = volley.requests
    protocol = RoomConnection if isinstance(requests, RoomBuyers) else KeepAliveConnection
    loop = asyncio.get_running_loop()
    ever_connected = False

    async def keep_one_connection() -> None:
        nonlocal ever_connected
        while volley.next_index < len(requests) or volley.parked:
            closed: asyncio.Future[None] = loop.create_future()
            try:
                await loop.create_connection(
                    functools.partial(protocol, volley, closed), target.host, target.port
                )
            except OSError as exc:
                if not ever_connected:
                    raise GeneratorError(f"cannot connect to {target.host}:{target.port}: {exc}") from exc
                index = volley.take()  # the server went away mid-run: count the attempt as failed
                if index >= 0:
                    volley.record(index, 0, "connect failed", time.perf_counter_ns())
                await asyncio.sleep(0.01)
                continue
            ever_connected = True
            await closed

    await asyncio.gather(*(keep_one_connection() for _ in range(max(1, min(connections, len(requests))))))


def run_event_loop(coroutine: Coroutine[Any, Any, Any]) -> Any:
    """uvloop when installed. Measured here it saves only 5-10% of the generator's CPU per request (the
    rest is this module's Python), but every bit left to the server counts on a shared machine."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coroutine)
    return uvloop.run(coroutine)


# --- several processes ----------------------------------------------------------------------------------
# One Python process tops out at one core. Workers are spawned (not forked) so they start clean, get their
# share of the requests, wait at a barrier so the clock starts for all at once, and send back a Firing.
# Progress goes through shared memory that the parent reads about five times a second.

ProgressCallback = Callable[[int, int, float], None]  # answered, succeeded, seconds since the start


def fire(
    target: Target,
    requests: Sequence[bytes] | RoomBuyers,
    *,
    connections: int,
    processes: int = 1,
    progress: ProgressCallback | None = None,
) -> Firing:
    """Send every request from ``processes`` worker processes sharing ``connections`` connections."""
    processes = max(1, min(processes, len(requests) or 1))
    mp = multiprocessing.get_context("spawn")
    board = mp.RawArray("q", 2 * processes)  # (answered, succeeded) per worker, written by it alone
    barrier = mp.Barrier(processes + 1)
    answers: Any = mp.Queue()
    workers = [
        mp.Process(
            target=_worker_main,
            args=(target, _part(requests, i, processes), _share(connections, processes, i), board, i),
            kwargs={"barrier": barrier, "answers": answers},
            daemon=True,
        )
        for i in range(processes)
    ]
    for worker in workers:
        worker.start()
    try:
        barrier.wait(timeout=300)
        return Firing.merge(_collect(workers, answers, board, progress))
    finally:
        for worker in workers:
            worker.join(timeout=5)
            if worker.is_alive():
                worker.terminate()


def _part(requests: Sequence[bytes] | RoomBuyers, index: int, parts: int) -> list[bytes] | RoomBuyers:
    if isinstance(requests, RoomBuyers):
        return requests.part(index, parts)
    return list(requests[index::parts])


def _share(total: int, parts: int, index: int) -> int:
    return max(1, total // parts + (1 if index < total % parts else 0))


def _collect(
    workers: Sequence[Any],
    answers: Any,
    board: Any,
    progress: ProgressCallback | None,
) -> list[Firing]:
    started = time.perf_counter()
    parts: list[Firing] = []
    while len(parts) < len(workers):
        try:
            answer = answers.get(timeout=0.2)
        except queue.Empty:
            if any(w.exitcode not in (None, 0) for w in workers):
                raise GeneratorError("a load generator process died") from None
        else:
            if isinstance(answer, str):
                raise GeneratorError(answer)
            parts.append(answer)
        if progress is not None:
            progress(sum(board[0::2]), sum(board[1::2]), time.perf_counter() - started)
    return parts


def _worker_main(
    target: Target,
    requests: list[bytes] | RoomBuyers,
    connections: int,
    board: Any,
    slot: int,
    *,
    barrier: Any,
    answers: Any,
) -> None:
    barrier.wait()
    cpu_start, wall_start = time.process_time(), time.perf_counter()
    try:
        volley: Volley = run_event_loop(_fire_and_publish(target, requests, connections, board, slot))
    except GeneratorError as exc:
        answers.put(str(exc))
        return
    volley.firing.cpu_seconds = time.process_time() - cpu_start
    volley.firing.wall_seconds = time.perf_counter() - wall_start
    answers.put(volley.firing)


async def _fire_and_publish(
    target: Target, requests: list[bytes] | RoomBuyers, connections: int, board: Any, slot: int
) -> Volley:
    volley = Volley(requests)
    firing = asyncio.ensure_future(fire_here(target, volley, connections))
    finished = False
    while not finished:
        done, _ = await asyncio.wait([firing], timeout=0.1)
        board[2 * slot], board[2 * slot + 1] = volley.answered, volley.succeeded
        finished = bool(done)
    firing.result()  # re-raises GeneratorError
    return volley
