"""Partner events published to NATS JetStream (running on 127.0.0.1:4222), once per event id: a
publisher that publishes again after losing its position adds nothing to the stream."""

from __future__ import annotations

import uuid

import nats
import pytest
import sqlalchemy as sa

from flashport.adapters.db.partners_schema import partner_events, relay_cursors
from flashport.services.context import Context
from flashport.services.partners import stream
from tests.partner_world import make_world, place_order, relay_until_settled

NATS_URL = "nats://127.0.0.1:4222"


async def test_each_partner_event_is_in_the_stream_once_even_when_published_again(ctx: Context) -> None:
    try:
        connection = await nats.connect(NATS_URL, connect_timeout=2, max_reconnect_attempts=0)
    except Exception as exc:  # any failure to reach it means there is no NATS on this machine
        pytest.skip(f"no NATS server at {NATS_URL}: {exc}")
    tag = uuid.uuid4().hex[:10]
    name, prefix = f"FPTEST_{tag}", f"fptest.{tag}"
    js = connection.jetstream()
    try:
        await stream.ensure_stream(js, name, prefix)
        await stream.ensure_stream(js, name, prefix)  # twice is harmless
        world = await make_world(ctx)
        await place_order(ctx, world, goods=0, carrier=1, payer=0, refund=True)
        await relay_until_settled(ctx)
        async with ctx.read() as conn:
            ids = set((await conn.execute(sa.select(partner_events.c.id))).scalars())
        assert await stream.publish_pass(ctx, js, prefix) == len(ids)
        async with ctx.transaction() as tx:  # as if the publisher died before its position was saved
            await tx.conn.execute(
                relay_cursors.update().where(relay_cursors.c.name == stream.CURSOR).values(last_id=0)
            )
        assert await stream.publish_pass(ctx, js, prefix) == 0
        info = await js.stream_info(name)
        assert info.state.messages == len(ids)
        consumer = await js.pull_subscribe(
            f"{prefix}.{world.carriers[1].partner_id}.>", durable=f"c{tag}", stream=name
        )
        messages = await consumer.fetch(10, timeout=5)
        assert [m.subject.rsplit(".", 2)[-2] + "." + m.subject.rsplit(".", 2)[-1] for m in messages] == [
            "declaration.declared",
            "declaration.released",
            "order.shipped",
        ]
        assert all(m.headers and m.headers["Nats-Msg-Id"].startswith("evt_") for m in messages)
    finally:
        try:
            await js.delete_stream(name)
        finally:
            await connection.close()
