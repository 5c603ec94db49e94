"""The chaos suite's machinery: services of its own to break, a proxy that can stall, the platform's real
processes, and a steady purchase and payment load whose every answer is recorded.

Nothing here touches the machine's shared PostgreSQL or Redis: a case restarts, flushes and stalls a
PostgreSQL cluster and a Redis server started for the suite alone, so other test runs never notice.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import redis.asyncio as aioredis

from tests.servers import free_port

PG_BIN = next(iter(sorted(Path("/usr/lib/postgresql").glob("*/bin"))), Path("/usr/lib/postgresql/15/bin"))
SERVICE_START_SECONDS = 60.0


def _wait_until(check: object, what: str, within: float = SERVICE_START_SECONDS) -> None:
    """Poll a synchronous ``check`` (a safety-net deadline, not a timing assertion)."""
    deadline = time.monotonic() + within
    while not check():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {within} s")
        time.sleep(0.05)


# --- PostgreSQL of the suite's own -------------------------------------------------------------------------


class PrivatePostgres:
    """A PostgreSQL cluster made by ``initdb`` in a folder of its own, run as the ``postgres`` user (the
    server refuses root), on a free loopback port; :meth:`restart` is a real fast restart."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="fp-chaos-pg-"))
        self.data = self.root / "data"
        self.port = 0
        shutil.chown(self.root, "postgres", "postgres")

    def _as_postgres(self, *args: str) -> None:
        command = ["runuser", "-u", "postgres", "--", *args]
        subprocess.run(command, check=True, capture_output=True, timeout=SERVICE_START_SECONDS)

    def start(self) -> None:
        if not self.data.exists():
            self._as_postgres(str(PG_BIN / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust")
        self.port = self.port or free_port()
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c max_connections=200"
        self._as_postgres(
            str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-o", options, "-l", str(self.root / "log"), "-w",
            "start",
        )  # fmt: skip

    def restart(self) -> None:
        """A fast shutdown (every session ended, as a real restart does) and a start on the same port."""
        self._as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")
        self.start()

    def stop(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError, subprocess.TimeoutExpired):
            self._as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str = "postgres", port: int | None = None) -> str:
        return f"postgresql://postgres@127.0.0.1:{port or self.port}/{database}"

    def create_database(self, name: str) -> None:
        subprocess.run(
            [str(PG_BIN / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", name],
            check=True,
            capture_output=True,
            timeout=SERVICE_START_SECONDS,
        )


# --- Redis of the suite's own ------------------------------------------------------------------------------


class PrivateRedis:
    """A ``redis-server`` with an append-only file in a folder of its own, so :meth:`restart` keeps the
    data as a production Redis does; :meth:`lose_everything` flushes it as if it had none."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="fp-chaos-redis-"))
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.port = self.port or free_port()
        self.process = subprocess.Popen(
            [
                "redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "yes", "--appendfsync", "always", "--dir", str(self.root),
                "--logfile", str(self.root / "log"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        _wait_until(self._answers, f"redis-server on port {self.port} answering")

    def _answers(self) -> bool:
        assert self.process is not None
        assert self.process.poll() is None, f"redis-server exited: {(self.root / 'log').read_text()[-500:]}"
        try:
            out = subprocess.run(
                ["redis-cli", "-p", str(self.port), "PING"], capture_output=True, timeout=5, check=False
            )
        except subprocess.TimeoutExpired:
            return False
        return out.stdout.strip() == b"PONG"

    def restart(self) -> None:
        """SHUTDOWN (the append-only file written out), then the same server on the same port again."""
        subprocess.run(["redis-cli", "-p", str(self.port), "SHUTDOWN"], capture_output=True, timeout=30)
        assert self.process is not None
        self.process.wait(timeout=SERVICE_START_SECONDS)
        self.start()

    def lose_everything(self) -> None:
        subprocess.run(["redis-cli", "-p", str(self.port), "FLUSHALL"], check=True, capture_output=True)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        shutil.rmtree(self.root, ignore_errors=True)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"


# --- a proxy that can stall --------------------------------------------------------------------------------


class StallProxy:
    """A TCP proxy on a loopback port in front of ``target``. :meth:`stall` holds every byte in both
    directions (and new connections) until :meth:`resume`: a network that stops delivering, as a
    partition does, without resetting anything."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.flowing = asyncio.Event()
        self.flowing.set()
        self.server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._client, "127.0.0.1", 0)
        self.port = int(self.server.sockets[0].getsockname()[1])
        return self.port

    def stall(self) -> None:
        self.flowing.clear()

    def resume(self) -> None:
        self.flowing.set()

    async def close(self) -> None:
        self.resume()
        if self.server is not None:
            self.server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.server.wait_closed(), 5)

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await self.flowing.wait()
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.close()
            return
        await asyncio.gather(self._pump(reader, up_writer), self._pump(up_reader, writer))

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                await self.flowing.wait()
                writer.write(data)
                await writer.drain()
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            with contextlib.suppress(OSError, RuntimeError):
                writer.close()


def _is_resource_tracker(pid: int) -> bool:
    try:
        return b"resource_tracker" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:  # gone meanwhile
        return True


# --- the platform's processes ------------------------------------------------------------------------------


@dataclass
class Process:
    """``python -m flashport <args>`` with its own environment, output kept in a log file."""

    args: Sequence[str]
    env: Mapping[str, str]
    log: Path
    popen: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.popen = subprocess.Popen(
                [sys.executable, "-m", "flashport", *self.args],
                env=dict(self.env),
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def kill9(self) -> None:
        assert self.popen is not None
        os.kill(self.popen.pid, signal.SIGKILL)
        self.popen.wait()

    def children(self) -> list[int]:
        """The processes serving requests (not multiprocessing's resource tracker, also a child)."""
        assert self.popen is not None
        path = Path(f"/proc/{self.popen.pid}/task/{self.popen.pid}/children")
        with contextlib.suppress(OSError):
            return [int(p) for p in path.read_text().split() if not _is_resource_tracker(int(p))]
        return []

    def stop(self) -> None:
        if self.popen is None or self.popen.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGTERM)
        try:
            self.popen.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait()

    def state(self) -> str:
        """Whether the process (and each child serving requests) still runs, for a failed case's report."""
        if self.popen is None:
            return "not started"
        code = self.popen.poll()
        if code is not None:
            return f"exited ({'signal ' + str(-code) if code < 0 else 'code ' + str(code)})"
        return f"running (pid {self.popen.pid}; children {[(c, _proc_state(c)) for c in self.children()]})"

    def tail(self, chars: int = 3000) -> str:
        with contextlib.suppress(OSError):
            return self.log.read_text(errors="replace")[-chars:]
        return ""


def _proc_state(pid: int) -> str:
    """The kernel's one-letter state of a process (R running, S sleeping, Z zombie, ...), or gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "gone"


async def until_live(url: str, within: float = SERVICE_START_SECONDS) -> None:
    deadline = time.monotonic() + within
    async with httpx.AsyncClient(trust_env=False) as client:
        while True:
            with contextlib.suppress(httpx.TransportError):
                if (await client.get(f"{url}/livez", timeout=5)).status_code == 200:
                    return
            if time.monotonic() > deadline:
                raise AssertionError(f"{url} did not come up within {within} s")
            await asyncio.sleep(0.1)


# --- the load ----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Answer:
    at: float  # monotonic, when the answer came (or the client gave up)
    status: int  # 0: no answer (connection refused or reset, timed out)
    code: str
    retry_after: bool
    sent: float = 0.0  # monotonic, when the request went out


@dataclass
class Purchase:
    """One buyer's purchase as a careful client makes it: one Idempotency-Key, retried on anything but
    a final answer, after the ``Retry-After`` it was given."""

    buyer: int
    token: str
    key: str = field(default_factory=lambda: uuid.uuid4().hex)
    answers: list[Answer] = field(default_factory=list)
    order_id: str | None = None

    @property
    def final(self) -> bool:
        last = self.answers[-1] if self.answers else None
        return last is not None and last.status in FINAL and last.code != "idempotency_key_in_progress"


@dataclass
class Notification:
    out_trade_no: str
    body: bytes
    answers: list[Answer] = field(default_factory=list)

    @property
    def acknowledged(self) -> bool:
        return bool(self.answers) and self.answers[-1].status == 200 and self.answers[-1].code == "success"


# A 201 marked Idempotent-Replayed: a retry given its first answer again (that one was lost on the way).
# A 409 idempotency_key_in_progress is not final: the first attempt is still being decided.
FINAL = (200, 201, 409, 422)
RETRY_PAUSE_CAP = 1.0  # a client honours Retry-After, capped so a case does not idle


class Load:
    """Purchases (one unit each, every buyer once) and payment notifications at a steady pace, each
    retried until it has a final answer. :meth:`answers` gives every answer with its time."""

    def __init__(
        self,
        url: str,
        item_id: int,
        tokens: Sequence[str],
        notifications: Sequence[Notification],
        *,
        buyers_at_once: int = 8,
        notifiers_at_once: int = 2,
        request_timeout: float = 5.0,
    ) -> None:
        self.url = url
        self.item_id = item_id
        self.purchases = [Purchase(i, t) for i, t in enumerate(tokens)]
        self.notifications = list(notifications)
        self.buyers_at_once = buyers_at_once
        self.notifiers_at_once = notifiers_at_once
        self.timeout = request_timeout
        self._next_buyer = 0
        self._next_note = 0
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    async def __aenter__(self) -> Load:
        limits = httpx.Limits(max_connections=self.buyers_at_once + self.notifiers_at_once + 4)
        self.client = httpx.AsyncClient(base_url=self.url, trust_env=False, limits=limits)
        self._tasks = [asyncio.create_task(self._buyer_loop()) for _ in range(self.buyers_at_once)]
        self._tasks += [asyncio.create_task(self._notifier_loop()) for _ in range(self.notifiers_at_once)]
        return self

    async def stop(self) -> None:
        self._stop.set()
        await asyncio.gather(*self._tasks)

    async def __aexit__(self, *exc: object) -> None:
        if not self._stop.is_set():
            await self.stop()
        await self.client.aclose()

    async def finish(self, within: float) -> None:
        """Let every purchase and notification already started reach its final answer (the load has
        stopped taking new ones): what a client that keeps retrying would see."""
        deadline = time.monotonic() + within
        started = self.purchases[: self._next_buyer]
        notes = self.notifications[: self._next_note]
        while True:
            open_purchases = [p for p in started if not p.final]
            open_notes = [n for n in notes if not n.acknowledged]
            if not open_purchases and not open_notes:
                return
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{len(open_purchases)} purchases and {len(open_notes)} notifications had no final "
                    f"answer within {within} s"
                )
            await asyncio.gather(
                *(self._buy_once(p) for p in open_purchases[:32]),
                *(self._notify_once(n) for n in open_notes[:32]),
            )

    def answers(self) -> list[Answer]:
        every = [a for p in self.purchases for a in p.answers]
        return sorted(every, key=lambda a: a.at)

    def notification_answers(self) -> list[Answer]:
        return sorted((a for n in self.notifications for a in n.answers), key=lambda a: a.at)

    def started_purchases(self) -> list[Purchase]:
        return self.purchases[: self._next_buyer]

    def started_notifications(self) -> list[Notification]:
        return self.notifications[: self._next_note]

    async def _buyer_loop(self) -> None:
        while not self._stop.is_set() and self._next_buyer < len(self.purchases):
            purchase = self.purchases[self._next_buyer]
            self._next_buyer += 1
            while not purchase.final and not self._stop.is_set():
                pause = await self._buy_once(purchase)
                if pause:
                    await asyncio.sleep(pause)

    async def _buy_once(self, purchase: Purchase) -> float:
        headers = {"Authorization": f"Bearer {purchase.token}", "Idempotency-Key": purchase.key}
        sent = time.monotonic()
        try:
            response = await self.client.post(
                f"/api/v1/sale-items/{self.item_id}/buy",
                json={"quantity": 1},
                headers=headers,
                timeout=self.timeout,
            )
        except httpx.TransportError as exc:  # named, so the figures say which (a timeout, a reset...)
            purchase.answers.append(
                Answer(time.monotonic(), 0, f"no_answer ({type(exc).__name__})", False, sent)
            )
            return 0.2
        code = _code_of(response)
        retry_after = "retry-after" in response.headers
        purchase.answers.append(Answer(time.monotonic(), response.status_code, code, retry_after, sent))
        if response.status_code in (200, 201):
            purchase.order_id = str(response.json()["id"])
        if purchase.final:
            return 0.0
        return min(float(response.headers.get("retry-after", "0.2") or 0.2), RETRY_PAUSE_CAP)

    async def _notifier_loop(self) -> None:
        while not self._stop.is_set() and self._next_note < len(self.notifications):
            note = self.notifications[self._next_note]
            self._next_note += 1
            while not note.acknowledged and not self._stop.is_set():
                if not await self._notify_once(note):
                    await asyncio.sleep(0.2)  # a provider retries later; Alipay waits minutes

    async def _notify_once(self, note: Notification) -> bool:
        sent = time.monotonic()
        try:
            response = await self.client.post(
                "/api/v1/payments/alipay/notify",
                content=note.body,
                headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
                timeout=self.timeout,
            )
        except httpx.TransportError as exc:
            note.answers.append(Answer(time.monotonic(), 0, f"no_answer ({type(exc).__name__})", False, sent))
            return False
        text = response.text.strip()
        code = text if response.status_code == 200 else _code_of(response)
        note.answers.append(
            Answer(time.monotonic(), response.status_code, code, "retry-after" in response.headers, sent)
        )
        return note.acknowledged


def _code_of(response: httpx.Response) -> str:
    if response.status_code in (200, 201):
        return "retry_answered" if response.headers.get("idempotent-replayed") == "true" else "created"
    with contextlib.suppress(ValueError, AttributeError, KeyError, TypeError):
        return str(response.json()["code"])
    return response.text[:40]


# --- figures -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Figures:
    """What a fault cost, from the answers: the span from the first failed request's sending to the last
    failed answer (``error_seconds``; a request left unanswered until the client gave up counts from
    when it was sent, so a silent wait is not hidden), and from the fault's end to the first success
    after it (``recovery_seconds``)."""

    case: str
    purchases: int
    orders: int
    failed_answers: int
    error_seconds: float
    recovery_seconds: float
    statuses: dict[str, int]
    slowest_seconds: float = 0.0  # the longest a purchase waited for one answer (or gave up)

    unanswered: tuple[str, ...] = ()  # each request the client gave up on: what, and when it was sent

    def line(self) -> str:
        statuses = ", ".join(f"{k}: {v}" for k, v in sorted(self.statuses.items()))
        gave_up = f"; no answer: {', '.join(self.unanswered)}" if self.unanswered else ""
        return (
            f"{self.case:<28} errors for {self.error_seconds:6.2f} s, back {self.recovery_seconds:6.2f} s "
            f"after the fault ended, slowest answer {self.slowest_seconds:5.2f} s; {self.purchases} "
            f"purchases, {self.orders} orders; answers {statuses}{gave_up}"
        )


def figures(case: str, load: Load, fault_started: float, fault_ended: float) -> Figures:
    answers = load.answers() + load.notification_answers()
    failed = [a for a in answers if a.status not in (200, 201, 409, 422)]
    after = [a.at for a in load.answers() if a.status == 201 and a.at >= fault_ended]
    error_seconds = (failed[-1].at - min(a.sent for a in failed)) if failed else 0.0
    recovery = (after[0] - fault_ended) if after else float("nan")
    statuses: dict[str, int] = {}
    for a in answers:
        label = f"{a.status} {a.code}" if a.status not in (200, 201) else str(a.status)
        statuses[label] = statuses.get(label, 0) + 1
    started = load.started_purchases()
    return Figures(
        case,
        len(started),
        sum(1 for p in started if p.order_id),
        len(failed),
        round(error_seconds, 2),
        round(max(recovery, 0.0), 2),
        statuses,
        round(max((a.at - a.sent for a in load.answers()), default=0.0), 2),
        unanswered(load, fault_started),
    )


def unanswered(load: Load, fault_started: float) -> tuple[str, ...]:
    """Each request left without an answer, named: a purchase (and the answer before it, if it was a
    retry) or a notification, with its sending time from the fault's start."""
    named: list[tuple[float, str]] = []
    for p in load.started_purchases():
        for before, a in zip([None, *p.answers], p.answers, strict=False):
            if a.status == 0:
                after = f" after {before.status} {before.code}" if before is not None else ""
                named.append((a.sent, f"purchase{after} sent at {a.sent - fault_started:+.2f} s ({a.code})"))
    for n in load.started_notifications():
        named += [
            (a.sent, f"notification sent at {a.sent - fault_started:+.2f} s ({a.code})")
            for a in n.answers
            if a.status == 0
        ]
    return tuple(text for _, text in sorted(named))


@contextlib.contextmanager
def timed() -> Iterator[list[float]]:
    """``with timed() as span:`` gives ``[start, end]`` in monotonic seconds."""
    span = [time.monotonic(), 0.0]
    try:
        yield span
    finally:
        span[1] = time.monotonic()


async def redis_keys(url: str, prefix: str) -> int:
    client = aioredis.Redis.from_url(url)
    try:
        return sum([1 async for _ in client.scan_iter(match=f"{prefix}*", count=1000)])
    finally:
        await client.aclose()
