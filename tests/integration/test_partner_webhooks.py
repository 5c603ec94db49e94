"""Partner webhooks on the Standard Webhooks scheme: signed so the reference library verifies them,
retried on the schedule with the same webhook-id (the clock injected), Retry-After honoured, 410 and
days of failure disable the endpoint and tell its owner, resend and recovery, batches when far behind."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from standardwebhooks import Webhook
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from flashport.adapters.db.partners_schema import partner_events, webhook_deliveries, webhook_endpoints
from flashport.domain.accounts import Role
from flashport.services.context import Context
from flashport.services.partners import delivery
from tests.factories import auth, make_user
from tests.partner_world import World, make_world, place_order, relay_until_settled
from tests.servers import free_port, serving


@dataclass
class Receiver:
    """A partner's receiving server: answers from ``script`` in turn (then 200), keeps what it got."""

    url: str = ""
    script: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    received: list[tuple[dict[str, str], str]] = field(default_factory=list)

    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(body) for _, body in self.received]

    def events(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for body in self.bodies():
            out += body["data"]["events"] if body["type"] == "batch" else [body["data"]]
        return out


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    state = Receiver()

    async def hook(request: Request) -> Response:
        state.received.append((dict(request.headers), (await request.body()).decode()))
        status, headers = state.script.pop(0) if state.script else (200, {})
        return Response(status_code=status, headers=headers)

    app = Starlette(routes=[Route("/hook", hook, methods=["POST"])])
    async with serving(app) as base:
        state.url = f"{base}/hook"
        yield state


def key_auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def _endpoint(
    client: httpx.AsyncClient, key: str, url: str, types: list[str] | None = None
) -> dict[str, Any]:
    made = await client.post(
        "/api/v1/partner/webhooks", json={"url": url, "event_types": types or []}, headers=key_auth(key)
    )
    assert made.status_code == 201, made.text
    body: dict[str, Any] = made.json()
    return body


async def _queue(ctx: Context) -> None:
    await relay_until_settled(ctx)
    await delivery.enqueue(ctx)


class Clock:
    def __init__(self, ctx: Context) -> None:
        self.now = ctx.clock()
        ctx.clock = lambda: self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


async def _world_with_endpoint(
    ctx: Context, client: httpx.AsyncClient, receiver: Receiver
) -> tuple[World, dict[str, Any]]:
    world = await make_world(ctx)
    endpoint = await _endpoint(client, world.carriers[1].key, receiver.url)
    return world, endpoint


async def test_deliveries_are_signed_so_the_standard_webhooks_library_verifies_them(
    client: httpx.AsyncClient, ctx: Context, receiver: Receiver
) -> None:
    world, endpoint = await _world_with_endpoint(ctx, client, receiver)
    secret = endpoint["secret"]
    assert secret.startswith("whsec_") and len(Webhook(secret)._whsecret) >= 24
    mine = await place_order(ctx, world, goods=0, carrier=1, payer=0)
    await place_order(ctx, world, goods=1, carrier=0, payer=1)  # another carrier's: never sent here
    await _queue(ctx)
    assert await delivery.send_due(ctx) == 3
    for headers, body in receiver.received:
        Webhook(secret).verify(body, headers)  # raises on any fault
    assert [e["type"] for e in receiver.events()] == [
        "declaration.declared",
        "declaration.released",
        "order.shipped",
    ]
    assert {e["subject"] for e in receiver.events()} == {f"order:{mine}"}
    assert [e["subject_seq"] for e in receiver.events()] == [1, 2, 3]
    assert len({h["webhook-id"] for h, _ in receiver.received}) == 3
    assert await delivery.send_due(ctx) == 0  # nothing twice


async def test_during_a_secret_rotation_each_delivery_carries_both_signatures(
    client: httpx.AsyncClient, ctx: Context, receiver: Receiver
) -> None:
    world, endpoint = await _world_with_endpoint(ctx, client, receiver)
    rotated = await client.post(
        f"/api/v1/partner/webhooks/{endpoint['endpoint']['id']}/rotate-secret",
        json={"overlap_seconds": 3600},
        headers=key_auth(world.carriers[1].key),
    )
    new_secret = rotated.json()["secret"]
    await place_order(ctx, world, goods=0, carrier=1, payer=0)
    await _queue(ctx)
    await delivery.send_due(ctx)
    headers, body = receiver.received[0]
    assert len(headers["webhook-signature"].split(" ")) == 2
    Webhook(endpoint["secret"]).verify(body, headers)
    Webhook(new_secret).verify(body, headers)


async def test_a_failing_receiver_is_retried_on_the_schedule_with_the_same_webhook_id(
    client: httpx.AsyncClient, ctx: Context, receiver: Receiver
) -> None:
    world = await make_world(ctx)
    await _endpoint(client, world.carriers[1].key, receiver.url, ["order.shipped"])
    await place_order(ctx, world, goods=0, carrier=1, payer=0)
    await _queue(ctx)
    clock = Clock(ctx)
    receiver.script = [(500, {}), (503, {}), (429, {"Retry-After": "3600"})]
    assert await delivery.send_due(ctx) == 0
    clock.advance(seconds=4)
    assert await delivery.send_due(ctx) == 0 and len(receiver.received) == 1  # not due before 5 s
    clock.advance(seconds=1)
    assert await delivery.send_due(ctx) == 0 and len(receiver.received) == 2
    clock.advance(minutes=5)
    assert await delivery.send_due(ctx) == 0 and len(receiver.received) == 3  # 429, Retry-After 1 h
    clock.advance(minutes=59)
    assert await delivery.send_due(ctx) == 0 and len(receiver.received) == 3  # the schedule said 30 min
    clock.advance(minutes=1)
    assert await delivery.send_due(ctx) == 1 and len(receiver.received) == 4
    assert len({h["webhook-id"] for h, _ in receiver.received}) == 1
    async with ctx.read() as conn:
        row = (await conn.execute(sa.select(webhook_deliveries))).one()
    assert (row.status, row.attempts, row.last_status_code) == ("delivered", 4, 200)


async def test_a_410_disables_the_endpoint_and_its_owner_and_the_operator_are_told(
    client: httpx.AsyncClient, ctx: Context, receiver: Receiver
) -> None:
    world = await make_world(ctx)
    endpoint = await _endpoint(client, world.carriers[1].key, receiver.url, ["order.shipped"])
    await place_order(ctx, world, goods=0, carrier=1, payer=0)
    await _queue(ctx)
    receiver.script = [(410, {})]
    await delivery.send_due(ctx)
    assert len(receiver.received) == 1
    assert await delivery.send_due(ctx) == 0 and len(receiver.received) == 1  # nothing more to it
    _, operator = await make_user(ctx, Role.OPERATOR)
    seen = (
        await client.get(f"/api/v1/partners/{world.carriers[1].partner_id}/webhooks", headers=auth(operator))
    ).json()
    assert seen[0]["disabled_at"] and "410" in seen[0]["disabled_reason"]
    await relay_until_settled(ctx)
    feed = (
        await client.get(
            "/api/v1/partner/feed?type=webhook_endpoint.disabled", headers=key_auth(world.carriers[1].key)
        )
    ).json()
    assert [e["data"]["endpoint_id"] for e in feed["items"]] == [endpoint["endpoint"]["id"]]
    others = (
        await client.get(
            "/api/v1/partner/feed?type=webhook_endpoint.disabled", headers=key_auth(world.carriers[0].key)
        )
    ).json()
    assert others["items"] == []
    enabled = await client.post(
        f"/api/v1/partner/webhooks/{endpoint['endpoint']['id']}/enable",
        headers=key_auth(world.carriers[1].key),
    )
    assert enabled.json()["disabled_at"] is None
    assert await delivery.send_due(ctx) == 1  # what waited is sent once it is back
    assert len(receiver.received) == 2


async def test_an_endpoint_failing_for_days_is_disabled_and_a_spent_schedule_fails_the_delivery(
    client: httpx.AsyncClient, ctx: Context, receiver: Receiver
) -> None:
    world = await make_world(ctx)
    await _endpoint(client, world.carriers[1].key, receiver.url, ["order.shipped"])
    await place_order(ctx, world, goods=0, carrier=1, payer=0)
    await _queue(ctx)
    clock = Clock(ctx)
    receiver.script = [(500, {})] * 100
    for wait in [0, 5, 300, 1800, 7200, 18000, 36000, 36000]:
        clock.advance(seconds=wait)
        await delivery.send_due(ctx)
    assert len(receiver.received) == 8
    async with ctx.read() as conn:
        assert (await conn.execute(sa.select(webhook_deliveries.c.status))).scalar_one() == "failed"
        assert (await conn.execute(sa.select(webhook_endpoints.c.disabled_at))).scalar_one() is None
    clock.advance(days=2)
    await place_order(ctx, world, goods=0, carrier=1, payer=0)
    await _queue(ctx)
    await delivery.send_due(ctx)
    async with ctx.read() as conn:
        disabled = (await conn.execute(sa.select(webhook_endpoints.c.disabled_reason))).scalar_one()
    assert disabled and "no successful delivery since" in disabled


async def test_one_delivery_is_resent_with_its_id_and_everything_since_a_time_is_recovered(
    client: httpx.AsyncClient, ctx: Context, receiver: Receiver
) -> None:
    world, endpoint = await _world_with_endpoint(ctx, client, receiver)
    start = ctx.clock()
    await place_order(ctx, world, goods=0, carrier=1, payer=0)
    await _queue(ctx)
    await delivery.send_due(ctx)
    key = world.carriers[1].key
    listed = (
        await client.get(
            f"/api/v1/partner/webhooks/{endpoint['endpoint']['id']}/deliveries", headers=key_auth(key)
        )
    ).json()
    first = listed[-1]
    assert (
        await client.post(f"/api/v1/partner/webhook-deliveries/{first['id']}/resend", headers=key_auth(key))
    ).status_code == 204
    await delivery.send_due(ctx)
    assert receiver.received[-1][0]["webhook-id"] == first["message_id"]
    others = await client.post(
        f"/api/v1/partner/webhook-deliveries/{first['id']}/resend", headers=key_auth(world.carriers[0].key)
    )
    assert others.status_code == 404
    recovered = await client.post(
        f"/api/v1/partner/webhooks/{endpoint['endpoint']['id']}/recover",
        json={"since": (start - timedelta(seconds=1)).isoformat()},
        headers=key_auth(key),
    )
    assert recovered.json() == {"events": 3}
    before = len(receiver.received)
    await delivery.send_due(ctx)
    batch = receiver.bodies()[before:]
    assert [b["type"] for b in batch] == ["batch"] and len(batch[0]["data"]["events"]) == 3


async def test_a_partner_far_behind_gets_several_events_in_one_delivery(
    client: httpx.AsyncClient, ctx: Context, receiver: Receiver
) -> None:
    world = await make_world(ctx)
    await _endpoint(client, world.suppliers[0].key, receiver.url)
    for _ in range(4):
        await place_order(ctx, world, goods=0, carrier=0, payer=0)  # 6 supplier events each
    await _queue(ctx)
    await delivery.send_due(ctx)
    assert [b["type"] for b in receiver.bodies()] == ["batch"]
    events = receiver.events()
    assert len(events) == 24 and len({e["id"] for e in events}) == 24


async def test_an_endpoint_secret_is_stored_sealed_never_in_clear(
    client: httpx.AsyncClient, ctx: Context, receiver: Receiver
) -> None:
    world, endpoint = await _world_with_endpoint(ctx, client, receiver)
    rotated = await client.post(
        f"/api/v1/partner/webhooks/{endpoint['endpoint']['id']}/rotate-secret",
        json={"overlap_seconds": 3600},
        headers=key_auth(world.carriers[1].key),
    )
    async with ctx.read() as conn:
        row = (await conn.execute(sa.select(webhook_endpoints))).one()
    for clear, stored in [(rotated.json()["secret"], row.secret), (endpoint["secret"], row.previous_secret)]:
        assert clear not in stored and not stored.startswith("whsec_")
        assert ctx.secrets.open(stored) == clear


async def test_private_addresses_are_refused_at_registration_and_at_delivery_unless_allowed(
    client: httpx.AsyncClient, ctx: Context, receiver: Receiver
) -> None:
    world = await make_world(ctx)
    await _endpoint(client, world.carriers[1].key, receiver.url)  # the test settings allow loopback
    ctx.settings = ctx.settings.model_copy(update={"webhook_allow_private_addresses": False})
    for url in [receiver.url, "http://localhost:9/x", "http://169.254.169.254/latest/meta-data/"]:
        refused = await client.post(
            "/api/v1/partner/webhooks", json={"url": url}, headers=key_auth(world.carriers[1].key)
        )
        assert refused.status_code == 422 and refused.json()["code"] == "webhook_address_refused", url
    await place_order(ctx, world, goods=0, carrier=1, payer=0)
    await _queue(ctx)
    assert await delivery.send_due(ctx) == 0  # resolved again at delivery: refused, never sent
    assert receiver.received == []
    async with ctx.read() as conn:
        errors = (await conn.execute(sa.select(webhook_deliveries.c.last_error))).scalars().all()
    assert errors and all(e and e.startswith("refused:") for e in errors)


async def test_a_redirect_from_a_receiver_is_not_followed(
    client: httpx.AsyncClient, ctx: Context, receiver: Receiver
) -> None:
    world = await make_world(ctx)
    await _endpoint(client, world.carriers[1].key, receiver.url, ["order.shipped"])
    await place_order(ctx, world, goods=0, carrier=1, payer=0)
    await _queue(ctx)
    receiver.script = [(307, {"Location": receiver.url + "?again=1"})]
    assert await delivery.send_due(ctx) == 0
    assert len(receiver.received) == 1  # the redirect's target was never asked
    async with ctx.read() as conn:
        row = (await conn.execute(sa.select(webhook_deliveries))).one()
    assert (row.status, row.last_status_code) == ("pending", 307)


async def test_a_receiver_down_for_ten_minutes_gets_every_event_once_when_it_is_back(
    client: httpx.AsyncClient, ctx: Context
) -> None:
    """Its port closed for ten minutes of the injected clock while orders keep coming; back, it gets
    every event within the retry schedule, each under one webhook-id only."""
    got: list[tuple[str, list[str]]] = []

    async def hook(request: Request) -> Response:
        body = json.loads(await request.body())
        got.append((request.headers["webhook-id"], [e["id"] for e in _events_of(body)]))
        return Response(status_code=204)

    app = Starlette(routes=[Route("/hook", hook, methods=["POST"])])
    port = free_port()
    world = await make_world(ctx)
    supplier = world.suppliers[0]
    async with serving(app, port=port) as base:
        await _endpoint(client, supplier.key, f"{base}/hook")
    clock = Clock(ctx)
    down_until = clock.now + timedelta(minutes=10)
    while clock.now < down_until:  # down: every try is refused at the socket
        await place_order(ctx, world, goods=0, carrier=0, payer=0)
        await _queue(ctx)
        assert await delivery.send_due(ctx) == 0
        clock.advance(seconds=45)
    async with ctx.read() as conn:
        expected = {
            f"evt_{i}"
            for i in (
                await conn.execute(
                    sa.select(partner_events.c.id).where(partner_events.c.partner_id == supplier.partner_id)
                )
            ).scalars()
        }
    assert expected and not got
    async with serving(app, port=port):
        back = clock.now
        while {e for _, ids in got for e in ids} != expected:
            assert clock.now - back <= timedelta(minutes=40), "not everything came within the schedule"
            clock.advance(minutes=1)
            await delivery.send_due(ctx)
    by_event = Counter(e for _, ids in {(m, tuple(ids)) for m, ids in got} for e in ids)
    assert set(by_event.values()) == {1}  # each event under one webhook-id, however often it came


def _events_of(body: dict[str, Any]) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = body["data"]["events"] if body["type"] == "batch" else [body["data"]]
    return events
