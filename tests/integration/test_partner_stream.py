"""Partner events through NATS JetStream (the real server on 127.0.0.1:4222, a stream of each test's
own): published once per event id, queued once per endpoint from the durable consumer even when the
stream hands an event out again, and acknowledged only after the delivery rows are stored."""

from __future__ import annotations

import asyncio
import json
from collections import Counter

import pytest
import sqlalchemy as sa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from flashport import worker
from flashport.adapters.db.partners_schema import partner_events, relay_cursors, webhook_deliveries
from flashport.adapters.partner_bus import NatsPartnerBus, Received
from flashport.services.context import Context
from flashport.services.partners import delivery, jobs, relay, stream, webhooks
from tests.nats_bus import bus_for
from tests.partner_world import make_world, place_order, relay_until_settled
from tests.servers import serving
from tests.waiting import eventually


async def test_each_partner_event_is_in_the_stream_once_even_when_published_again(ctx: Context) -> None:
    async with bus_for(ctx) as bus:
        world = await make_world(ctx)
        await place_order(ctx, world, goods=0, carrier=1, payer=0, refund=True)
        await relay_until_settled(ctx)
        async with ctx.read() as conn:
            ids = set((await conn.execute(sa.select(partner_events.c.id))).scalars())
        assert await stream.publish_all(ctx, bus) == len(ids)
        async with ctx.transaction() as tx:  # as if the publisher died before its position was saved
            await tx.conn.execute(
                relay_cursors.update().where(relay_cursors.c.name == stream.CURSOR).values(last_id=0)
            )
        assert await stream.publish_all(ctx, bus) == len(ids)  # sent again...
        js = await bus._jetstream()
        info = await js.stream_info(bus.stream)
        assert info.state.messages == len(ids)  # ...and dropped as copies by Nats-Msg-Id
        carrier = world.carriers[1].partner_id
        sub = await js.pull_subscribe(f"{bus.prefix}.{carrier}.>", durable="probe", stream=bus.stream)
        messages = await sub.fetch(10, timeout=5)
        assert [m.subject.removeprefix(f"{bus.prefix}.{carrier}.") for m in messages] == [
            "declaration.declared",
            "declaration.released",
            "order.shipped",
        ]
        assert all(m.headers and m.headers["Nats-Msg-Id"].startswith("evt_") for m in messages)


class DiesBeforeAck(NatsPartnerBus):
    """A delivery worker killed between storing its deliveries and acknowledging them."""

    async def fetch(self, batch: int, wait: float) -> list[Received]:
        got = await super().fetch(batch, wait)
        for message in got:
            message.ack = _never  # type: ignore[method-assign]
        return got


async def _never() -> None:
    return None


async def test_an_event_handed_out_again_after_a_lost_ack_is_queued_and_received_once(ctx: Context) -> None:
    received: list[tuple[str, list[str]]] = []

    async def hook(request: Request) -> Response:
        body = json.loads(await request.body())
        events = body["data"]["events"] if body["type"] == "batch" else [body["data"]]
        received.append((request.headers["webhook-id"], [e["id"] for e in events]))
        return Response(status_code=204)

    async with (
        bus_for(ctx, ack_wait=1.0) as bus,
        serving(Starlette(routes=[Route("/h", hook, methods=["POST"])])) as base,
    ):
        world = await make_world(ctx)
        supplier = world.suppliers[0].partner_id
        await webhooks.create(ctx, supplier, f"{base}/h", [])
        await webhooks.create(ctx, supplier, f"{base}/h", ["order.paid"])  # a second endpoint, one type
        for _ in range(3):
            await place_order(ctx, world, goods=0, carrier=0, payer=0)
        await relay_until_settled(ctx)
        async with ctx.read() as conn:
            everyone = len((await conn.execute(sa.select(partner_events.c.id))).all())
        assert await stream.publish_all(ctx, bus) == everyone  # every partner's (the supplier: 18)
        dying = DiesBeforeAck(bus.url, bus.stream, bus.prefix, bus.consumer, ack_wait=1.0)
        try:
            assert await stream.consume(ctx, dying, wait=2) == everyone  # stored, never acknowledged
        finally:
            await dying.close()
        # The stream hands them out again once the ack wait is over (on a busy machine in several
        # fetches, as each one's wait runs out); the marks keep them from being queued twice, and this
        # time they are acknowledged, so the stream falls silent.
        again = 0

        async def handed_out_again_then_silent() -> bool:
            nonlocal again
            got = await stream.consume(ctx, bus, wait=0.5)
            again += got
            return again >= everyone and got == 0

        await eventually(handed_out_again_then_silent, what="every unacknowledged event again, then none")
        async with ctx.read() as conn:
            rows = (await conn.execute(sa.select(webhook_deliveries.c.body))).scalars().all()
        queued = Counter(e["id"] for body in rows for e in _events(body))
        assert len(queued) == 18 and sum(queued.values()) == 18 + 3  # the order.paid endpoint: 3 more
        while await jobs.send_deliveries(ctx):
            pass
        got = Counter(e for _, ids in received for e in ids)
        assert sum(got.values()) == 21 and len(got) == 18
        assert await delivery.send_due(ctx) == 0


def _events(body: str) -> list[dict[str, str]]:
    parsed = json.loads(body)
    return parsed["data"]["events"] if parsed["type"] == "batch" else [parsed["data"]]


async def test_the_stream_and_the_webhooks_get_the_relayed_events_while_the_relay_is_still_busy(
    ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Publishing to the stream is a stage of its own, woken by the relay: the events of the relay's
    first pass reach the partner's webhook while the relay stage is still busy with the rest of its
    run (in a rush, its bounded run of passes). When publishing followed the relay in the same stage,
    nothing reached the stream until the relay's run ended."""
    if ctx.settings.is_sqlite:
        pytest.skip("on SQLite a worker's stages take turns (one writer): a busy stage holds the others")
    received: list[str] = []

    async def hook(request: Request) -> Response:
        received.extend(e["id"] for e in _events((await request.body()).decode()))
        return Response(status_code=204)

    async with bus_for(ctx) as bus, serving(Starlette(routes=[Route("/h", hook, methods=["POST"])])) as base:
        world = await make_world(ctx)
        supplier = world.suppliers[0].partner_id
        await webhooks.create(ctx, supplier, f"{base}/h", [])
        for _ in range(3):
            await place_order(ctx, world, goods=0, carrier=0, payer=0)
        still_busy = asyncio.Event()

        async def relay_then_stay_busy(c: Context) -> int:
            done = await relay.relay_all(c)
            if done:
                await still_busy.wait()  # the relay's run goes on (released at the end of the test)
            return done

        monkeypatch.setattr(jobs, "relay_events", relay_then_stay_busy)
        stop = asyncio.Event()
        running = asyncio.create_task(worker.run_forever(ctx, stop, worker.select_stages(only=("relay",))))
        try:

            async def supplier_events() -> set[str]:
                async with ctx.read() as conn:
                    ids = (
                        await conn.execute(
                            sa.select(partner_events.c.id).where(partner_events.c.partner_id == supplier)
                        )
                    ).scalars()
                return {f"evt_{i}" for i in ids}

            relayed = await eventually(supplier_events, what="the relay's first pass")

            async def every_relayed_event_received() -> bool:
                return relayed <= set(received)

            await eventually(every_relayed_event_received, what="the relayed events at the webhook")
            assert not still_busy.is_set() and not running.done()  # the relay had not finished its run
            js = await bus._jetstream()
            assert (await js.stream_info(bus.stream)).state.messages >= len(relayed)
        finally:
            still_busy.set()
            stop.set()
            await running
