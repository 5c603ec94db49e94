"""The partner integration's share of a worker pass: relay the outbox to partners' feeds."""

from __future__ import annotations

from flashport.services.context import Context
from flashport.services.partners import relay

JOB_PASSES = 20  # of relay.PASS_LIMIT records each


async def run(ctx: Context) -> int:
    """One pass; returns the partner events appended."""
    # Bounded, so a backlog of a rush never holds the worker's other jobs (expiry) for long.
    return await relay.relay_all(ctx, max_passes=JOB_PASSES)
