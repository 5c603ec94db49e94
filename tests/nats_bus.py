"""The real NATS JetStream on 127.0.0.1:4222 (scripts/ensure-services.sh starts it), with a stream,
subjects and a durable consumer of the test's own, deleted afterwards."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from flashport.adapters.partner_bus import BusUnavailable, NatsPartnerBus
from flashport.services.context import Context

NATS_URL = "nats://127.0.0.1:4222"


def bus_settings(tag: str, ack_wait: float = 30.0) -> dict[str, object]:
    return {
        "partner_bus": "nats",
        "nats_url": NATS_URL,
        "nats_stream": f"FPTEST_{tag}",
        "nats_subject_prefix": f"fptest.{tag}",
        "nats_consumer": f"fptest-{tag}",
        "nats_ack_wait_seconds": ack_wait,
    }


@asynccontextmanager
async def bus_for(ctx: Context, ack_wait: float = 30.0) -> AsyncIterator[NatsPartnerBus]:
    """``ctx`` with the bus on (``ctx.partner_bus``) over a stream of this test's own."""
    tag = uuid.uuid4().hex[:10]
    options = bus_settings(tag, ack_wait)
    ctx.settings = ctx.settings.model_copy(update=options)
    bus = NatsPartnerBus(NATS_URL, f"FPTEST_{tag}", f"fptest.{tag}", f"fptest-{tag}", ack_wait=ack_wait)
    try:
        await bus.publish([])  # connects and makes the stream
    except BusUnavailable as exc:
        pytest.fail(f"NATS at {NATS_URL} is unreachable ({exc}): scripts/ensure-services.sh starts it")
    ctx.partner_bus = bus
    try:
        yield bus
    finally:
        ctx.partner_bus = None
        try:
            await bus.delete_stream()
        finally:
            await bus.close()
