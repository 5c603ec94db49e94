"""Readiness: can this process serve a purchase now? Liveness (``/livez``) only says it runs.

A load balancer takes a process out of rotation while it is not ready and a supervisor restarts it only
when it is not alive, so a database or Redis outage empties the pool without a restart storm.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from flashport.adapters.db import backlog_repo
from flashport.services.context import Context

CHECK_SECONDS = 2.0  # a store slower than this to answer a ping is as good as down for a buyer


async def check(ctx: Context) -> dict[str, str]:
    """Each dependency's state: ``ok``, or why not (a short reason, no secrets)."""
    checks: dict[str, Callable[[], Awaitable[None]]] = {"database": lambda: _database(ctx)}
    if ctx.stock is not None:
        checks["stock_engine"] = ctx.stock.ping
    return {name: await _state(probe) for name, probe in checks.items()}


async def _database(ctx: Context) -> None:
    async with ctx.read() as conn:
        await backlog_repo.ping(conn)


async def _state(probe: Callable[[], Awaitable[None]]) -> str:
    try:
        await asyncio.wait_for(probe(), CHECK_SECONDS)
    except TimeoutError:
        return "timeout"
    except Exception as exc:  # any failure means not ready; its class name is enough to act on
        return f"error: {type(exc).__name__}"
    return "ok"
