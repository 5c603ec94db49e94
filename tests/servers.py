"""Real HTTP for tests: an ASGI app served by uvicorn on a loopback port, lifespan included.

The one harness for tests that serve an app: async tests enter :func:`serving` (or :func:`running` for the
server itself); synchronous tests (the browser tests: Playwright's sync API keeps an event loop on the main
thread) serve on the event loop of a :class:`LoopThread`; a test that must kill the server serves it in a
process of its own with :class:`ServerProcess` (``flashport serve``, exactly as deployed).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import AsyncIterator, Coroutine, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
import uvicorn

T = TypeVar("T")


def free_port() -> int:
    """A loopback port free right now (for settings that must name a URL before its server starts)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.asynccontextmanager
async def running(
    app: Any,
    *,
    stop_timeout: float | None = None,
    sock: socket.socket | None = None,
    **options: Any,
) -> AsyncIterator[uvicorn.Server]:
    """Run ``app`` with uvicorn on a loopback port and yield the server (its state, its sockets).
    ``options`` go to ``uvicorn.Config`` (``http=BuyEdge`` serves through the buy edge, as
    ``flashport serve`` does). ``sock``: a socket already bound, for a URL that must be known before
    the app is built. With ``stop_timeout``, a graceful stop that takes longer is forced."""
    options = {"host": "127.0.0.1", "port": 0, "log_level": "warning", "lifespan": "on"} | options
    server = uvicorn.Server(uvicorn.Config(app, **options))
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    task = asyncio.create_task(server.serve(sockets=None if sock is None else [sock]))
    while not server.started:
        if task.done():
            try:
                task.result()
            except SystemExit as exc:  # uvicorn exits when it cannot bind: a plain failure here
                raise RuntimeError(f"the server did not start (uvicorn exit {exc.code})") from None
            raise RuntimeError("server stopped before it started")
        await asyncio.sleep(0.01)
    try:
        yield server
    finally:
        server.should_exit = True
        try:
            await asyncio.wait_for(asyncio.shield(task), stop_timeout)
        except TimeoutError:
            server.force_exit = True
            await task


@contextlib.asynccontextmanager
async def serving(app: Any, port: int = 0, **options: Any) -> AsyncIterator[str]:
    """Run ``app`` on ``port`` (0: any free one) and yield its base URL; stopped on exit."""
    async with running(app, port=port, **options) as server:
        yield f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"


@contextlib.asynccontextmanager
async def serving_all(apps: Mapping[str, tuple[Any, socket.socket]]) -> AsyncIterator[dict[str, str]]:
    """Run each named ``(app, bound socket)``, started in the order given, and yield their base URLs by
    name. On exit every server is told to stop before any is waited for, so their stops overlap instead
    of adding up (uvicorn notices a stop at its next tick, then closes its connections and lifespan)."""
    async with contextlib.AsyncExitStack() as stack:
        servers = {
            name: await stack.enter_async_context(running(app, sock=sock))
            for name, (app, sock) in apps.items()
        }
        try:
            yield {
                name: f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
                for name, server in servers.items()
            }
        finally:
            for server in servers.values():
                server.should_exit = True


def bound_socket() -> socket.socket:
    """A socket bound to a free loopback port and kept: its URL is known before its server starts."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    return sock


class LoopThread:
    """An event loop on a thread of its own, for synchronous tests that need async work done: services,
    database checks, and a server entered with :meth:`enter` and left with :meth:`close`."""

    def __init__(self, name: str, timeout: float = 30.0) -> None:
        self.loop = asyncio.new_event_loop()
        self.timeout = timeout
        self._thread = threading.Thread(target=self.loop.run_forever, name=name, daemon=True)
        self._thread.start()
        self._entered = contextlib.AsyncExitStack()

    def run(self, work: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine on the thread's loop and return its result (waiting at most ``timeout``)."""
        return asyncio.run_coroutine_threadsafe(work, self.loop).result(timeout=self.timeout)

    def enter(self, context: contextlib.AbstractAsyncContextManager[T]) -> T:
        """Enter an async context (``serving(app)``, say) on the loop; it is left by :meth:`close`."""
        return self.run(self._entered.enter_async_context(context))

    def close(self) -> None:
        """Leave what was entered, last first, then stop the loop and its thread."""
        try:
            self.run(self._entered.aclose())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout=5)


@dataclass
class ServerProcess:
    """``python -m flashport serve`` on a free loopback port, in a process of its own (to be killed)."""

    url: str
    process: asyncio.subprocess.Process

    @classmethod
    async def start(cls, env: Mapping[str, str], *, within: float = 120.0) -> ServerProcess:
        """Start it with ``env`` (its whole environment) and return once ``/livez`` answers 200; fails if
        the process exits first or is not up ``within`` seconds (a safety net, not a timing check)."""
        port = free_port()
        process = await asyncio.create_subprocess_exec(
            *(sys.executable, "-m", "flashport", "serve", "--port", str(port)),
            env=dict(env),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
            start_new_session=True,  # its own process group: ``stop`` takes serve's workers with it
        )
        served = cls(f"http://127.0.0.1:{port}", process)
        try:
            await served._until_live(within)
        except BaseException:
            await served.stop()
            raise
        return served

    async def _until_live(self, within: float) -> None:
        deadline = time.monotonic() + within
        async with httpx.AsyncClient(trust_env=False) as client:
            while time.monotonic() < deadline:
                assert self.process.returncode is None, "the server exited during start-up"
                try:
                    if (await client.get(f"{self.url}/livez")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
        raise AssertionError(f"the server at {self.url} did not come up within {within} s")

    async def stop(self) -> None:
        """Kill it and every process it started (``serve --workers N``'s API processes outlive a killed
        parent), and reap it."""
        with contextlib.suppress(ProcessLookupError):  # the group may be gone (a SIGKILL sent before)
            os.killpg(self.process.pid, signal.SIGKILL)
        await self.process.wait()
