"""The partner relay and webhook sender in real ``flashport worker`` processes: one is killed with
SIGKILL while orders keep coming and deliveries are in flight, another takes over, and every event
reaches the partner's feed once and its receiver at least once (a redelivery only ever under the same
webhook-id, which receivers use to drop it)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from flashport.adapters.db.partners_schema import (
    partner_events,
    webhook_deliveries,
    webhook_queued_events,
)
from flashport.services.context import Context
from tests.integration.test_worker_processes import worker_processes
from tests.nats_bus import bus_for
from tests.partner_world import make_world, place_order
from tests.servers import serving

ORDERS = 30
EVENTS_PER_ORDER = 6  # a supplier's: created, checked out, payment, paid, released, shipped
DONE_WITHIN = 90.0


@pytest.mark.parametrize("bus", ["sql", "nats"])
async def test_a_worker_killed_mid_relay_and_mid_delivery_loses_and_duplicates_nothing(
    client: httpx.AsyncClient, ctx: Context, tmp_path: Path, bus: str
) -> None:
    """With the bus on, the killed worker was also the JetStream publisher and a delivery worker of
    the durable consumer: what it published without moving its cursor is published again (dropped as
    copies), what it fetched without acknowledging is handed to the next worker (queued once)."""
    async with contextlib.AsyncExitStack() as stack:
        if bus == "nats":
            await stack.enter_async_context(bus_for(ctx, ack_wait=2.0))
        await _killed_mid_flow(client, ctx, tmp_path)
        async with ctx.read() as conn:  # the deliveries came the way the setting says
            marked = await conn.scalar(sa.select(sa.func.count()).select_from(webhook_queued_events))
        assert (marked == ORDERS * EVENTS_PER_ORDER) if bus == "nats" else (marked == 0)


async def _killed_mid_flow(client: httpx.AsyncClient, ctx: Context, tmp_path: Path) -> None:
    received: list[tuple[str, list[str]]] = []  # (webhook-id, event ids)

    async def hook(request: Request) -> Response:
        body = json.loads(await request.body())
        events = body["data"]["events"] if body["type"] == "batch" else [body["data"]]
        await asyncio.sleep(0.05)  # a slow receiver: deliveries are in flight when the worker dies
        received.append((request.headers["webhook-id"], [e["id"] for e in events]))
        return Response(status_code=204)

    world = await make_world(ctx)
    supplier = world.suppliers[0]
    async with serving(Starlette(routes=[Route("/hook", hook, methods=["POST"])])) as base:
        made = await client.post(
            "/api/v1/partner/webhooks",
            json={"url": f"{base}/hook"},
            headers={"Authorization": f"Bearer {supplier.key}"},
        )
        assert made.status_code == 201
        async with worker_processes(ctx, tmp_path) as workers:
            first = await workers.start()
            await workers.ready(first)
            for n in range(ORDERS):
                await place_order(ctx, world, goods=0, carrier=0, payer=0)
                if n == ORDERS // 2:
                    await _wait(lambda: bool(received), "a first delivery")
                    first.send_signal(signal.SIGKILL)
                    await first.wait()
                    second = await workers.start()
                    await workers.ready(second)
            want = ORDERS * EVENTS_PER_ORDER
            await _wait(
                lambda: len({e for _, ids in received for e in ids}) >= want, f"{want} events delivered"
            )
            await workers.stop(second)

    async with ctx.read() as conn:
        relayed = (
            await conn.execute(
                sa.select(partner_events.c.id, partner_events.c.outbox_id).where(
                    partner_events.c.partner_id == supplier.partner_id
                )
            )
        ).all()
        queued = (
            await conn.execute(sa.select(webhook_deliveries.c.message_id, webhook_deliveries.c.body))
        ).all()
    assert len(relayed) == want and len({r.outbox_id for r in relayed}) == want  # each record once
    queued_ids = Counter(e["id"] for _, body in queued for e in _events(body))
    assert len(queued_ids) == want and set(queued_ids.values()) == {1}  # each event queued once
    got = {e for _, ids in received for e in ids}
    assert got == {f"evt_{r.id}" for r in relayed}
    by_message: dict[str, list[str]] = {}
    for message_id, ids in received:
        assert by_message.setdefault(message_id, ids) == ids  # a redelivery is the same message


def _events(body: str) -> list[dict[str, str]]:
    parsed = json.loads(body)
    return parsed["data"]["events"] if parsed["type"] == "batch" else [parsed["data"]]


async def _wait(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DONE_WITHIN
    while not condition():
        assert time.monotonic() < deadline, f"not reached within {DONE_WITHIN} s: {what}"
        await asyncio.sleep(0.05)
