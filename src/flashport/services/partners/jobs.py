"""The partner integration's stages in the worker, each its own loop so a rush flows through them side
by side: relay the outbox to partners' feeds (and, with the bus on, publish the new events to
JetStream), queue the new events for webhook endpoints (from the database, or from the stream's
durable consumer), send the deliveries that are due. :func:`run` does the three in turn once."""

from __future__ import annotations

from flashport.services.context import Context
from flashport.services.partners import delivery, relay, stream

JOB_PASSES = 20  # of relay.PASS_LIMIT records each


async def relay_events(ctx: Context) -> int:
    """Partner events appended (and published, with the bus on)."""
    # Bounded, so a backlog of a rush never holds the worker's other stages for long.
    done = await relay.relay_all(ctx, max_passes=JOB_PASSES)
    if ctx.partner_bus is not None:
        # Apart from the relay's own pass: its transaction never waits on NATS, and a NATS that is
        # down stops only the publishing (the feed fills on), which resumes from its own cursor.
        done += await stream.publish_all(ctx, ctx.partner_bus)
    return done


async def queue_deliveries(ctx: Context) -> int:
    if ctx.partner_bus is not None:
        return await stream.consume(ctx, ctx.partner_bus)
    return await delivery.enqueue(ctx)


async def send_deliveries(ctx: Context) -> int:
    return await delivery.send_due(ctx)


async def run(ctx: Context) -> int:
    """One pass of the three; returns the partner events appended plus the webhook deliveries made."""
    appended = await relay_events(ctx)
    await queue_deliveries(ctx)
    return appended + await send_deliveries(ctx)
