"""The partner integration's stages in the worker, each its own loop so a rush flows through them side
by side: relay the outbox to partners' feeds; with the bus on, publish the new events to JetStream;
queue the new events for webhook endpoints (from the database, or from the stream's durable consumer);
send the deliveries that are due. :func:`run` does them in turn once.

Publishing is a stage of its own, woken by the relay: when it ran after the relay's passes in the same
loop, a rush kept the relay busy for its whole bounded run before anything reached the stream, and
every delivery trailed the sale by that much."""

from __future__ import annotations

from flashport.services.context import Context
from flashport.services.partners import delivery, relay, stream

JOB_PASSES = 20  # of relay.PASS_LIMIT records each


async def relay_events(ctx: Context) -> int:
    """Partner events appended to the feeds."""
    # Bounded, so a backlog of a rush never holds the worker's other stages for long.
    return await relay.relay_all(ctx, max_passes=JOB_PASSES)


async def publish_events(ctx: Context) -> int:
    """With the bus on, the feeds' new events published to JetStream (copies included); else nothing.
    Apart from the relay: its transaction never waits on NATS, and a NATS that is down stops only the
    publishing (the feed fills on), which resumes from its own cursor."""
    if ctx.partner_bus is None:
        return 0
    # One pass: the stage polls again at once after a full one, and the relay wakes it.
    return await stream.publish_pass(ctx, ctx.partner_bus)


async def queue_deliveries(ctx: Context) -> int:
    if ctx.partner_bus is not None:
        return await stream.consume(ctx, ctx.partner_bus)
    return await delivery.enqueue(ctx)


async def send_deliveries(ctx: Context) -> int:
    return await delivery.send_due(ctx)


async def run(ctx: Context) -> int:
    """One pass of each; returns the partner events appended (and published) plus the webhook
    deliveries made."""
    appended = await relay_events(ctx)
    if ctx.partner_bus is not None:
        appended += await stream.publish_all(ctx, ctx.partner_bus)
    await queue_deliveries(ctx)
    return appended + await send_deliveries(ctx)
