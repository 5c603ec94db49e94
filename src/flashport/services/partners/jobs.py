"""The partner integration's share of a worker pass: relay the outbox to partners' feeds, queue the
new events for webhook endpoints, send the deliveries that are due."""

from __future__ import annotations

from flashport.services.context import Context
from flashport.services.partners import delivery, relay

JOB_PASSES = 20  # of relay.PASS_LIMIT records each


async def run(ctx: Context) -> int:
    """One pass; returns the partner events appended plus the webhook deliveries made."""
    # Bounded, so a backlog of a rush never holds the worker's other jobs (expiry) for long.
    appended = await relay.relay_all(ctx, max_passes=JOB_PASSES)
    await delivery.enqueue(ctx)
    return appended + await delivery.send_due(ctx)
