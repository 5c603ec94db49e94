"""Real HTTP for tests: an ASGI app served by uvicorn on a loopback port, lifespan included."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from typing import Any

import uvicorn


def free_port() -> int:
    """A loopback port free right now (for settings that must name a URL before its server starts)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.asynccontextmanager
async def running(
    app: Any, *, stop_timeout: float | None = None, **options: Any
) -> AsyncIterator[uvicorn.Server]:
    """Run ``app`` with uvicorn on a loopback port and yield the server (its state, its sockets).
    ``options`` go to ``uvicorn.Config`` (``http=BuyEdge`` serves through the buy edge, as
    ``flashport serve`` does). With ``stop_timeout``, a graceful stop that takes longer is forced."""
    options = {"host": "127.0.0.1", "port": 0, "log_level": "warning", "lifespan": "on"} | options
    server = uvicorn.Server(uvicorn.Config(app, **options))
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
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
