"""The back office's backlog, for /metrics: each worker stage's queue depth and the partner lags."""

from __future__ import annotations

from flashport.adapters.db import backlog_repo
from flashport.adapters.db.backlog_repo import Backlog
from flashport.services.context import Context
from flashport.services.partners.relay import RELAY


async def measure(ctx: Context) -> Backlog:
    async with ctx.read() as conn:
        return await backlog_repo.measure(conn, ctx.clock(), RELAY)
