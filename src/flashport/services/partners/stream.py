"""Partner events through NATS JetStream (``FLASHPORT_PARTNER_BUS=nats``), for fan-out beyond one
machine: the relay's events are published to the stream, and the delivery workers queue webhooks from
a durable consumer instead of from the database. The pull feed stays in the database either way.

Publishing (:func:`publish_pass`): each partner event goes to ``<prefix>.<partner id>.<type>`` with its
event id as ``Nats-Msg-Id``. The publisher's position is a relay cursor, moved in the transaction that
holds its lock after JetStream acknowledged the messages: a publisher killed between the two publishes
them again, and the stream drops the copies by message id.

Consuming (:func:`consume`): a batch of messages becomes delivery rows in one transaction, with a mark
per (endpoint, event) so an event handed out again (a worker killed before it acknowledged) is queued
once; the messages are acknowledged only after that transaction committed."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import datetime
from typing import Any

from flashport.adapters.db import partner_events_repo as repo
from flashport.adapters.db import webhooks_repo
from flashport.adapters.db.partner_events_repo import StoredEvent
from flashport.adapters.partner_bus import NatsPartnerBus, Outgoing
from flashport.services.context import Context
from flashport.services.partners.delivery import FAR_BEHIND, event_json, package, wants

CURSOR = "nats"
PASS_LIMIT = 2000
FETCH_BATCH = 1000


def message_for(bus: NatsPartnerBus, event: StoredEvent) -> Outgoing:
    body = {"partner_id": event.partner_id, "event": event_json(event)}
    return Outgoing(
        bus.subject_for(event.partner_id, event.type),
        f"evt_{event.id}",
        json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode(),
    )


def event_of(data: bytes) -> StoredEvent:
    body = json.loads(data)
    e = body["event"]
    return StoredEvent(
        id=int(e["id"].removeprefix("evt_")),
        partner_id=int(body["partner_id"]),
        outbox_id=0,  # not carried: deliveries need only what the partner sees
        type=e["type"],
        subject=e["subject"],
        subject_seq=int(e["subject_seq"]),
        occurred_at=datetime.fromisoformat(e["occurred_at"]),
        data=e["data"],
        link=e["link"],
    )


async def publish_pass(ctx: Context, bus: NatsPartnerBus, limit: int = PASS_LIMIT) -> int:
    """Publish the next partner events; returns how many were published (copies included)."""
    async with ctx.transaction() as tx:
        _, last_id = await repo.lock_cursor(tx.conn, CURSOR, tx.now)
        events = await repo.read_all_after(tx.conn, last_id, limit=limit)
        if events:
            await bus.publish([message_for(bus, e) for e in events])
            await repo.move_cursor(tx.conn, CURSOR, 0, events[-1].id, tx.now)
    return len(events)


async def publish_all(ctx: Context, bus: NatsPartnerBus, max_passes: int = 20) -> int:
    total = 0
    for _ in range(max_passes):
        done = await publish_pass(ctx, bus)
        total += done
        if done < PASS_LIMIT:
            break
    return total


async def consume(ctx: Context, bus: NatsPartnerBus, *, wait: float = 0.2, batch: int = FETCH_BATCH) -> int:
    """Queue webhooks for the next events from the stream; returns the events taken from it."""
    messages = await bus.fetch(batch, wait)
    if not messages:
        return 0
    events = {e.id: e for e in (event_of(m.data) for m in messages)}  # a copy in one batch: once
    async with ctx.transaction() as tx:
        endpoints = await webhooks_repo.endpoints_of_partners(
            tx.conn, {e.partner_id for e in events.values()}
        )
        wanted: dict[int, list[StoredEvent]] = defaultdict(list)
        for event in sorted(events.values(), key=lambda e: e.id):
            for endpoint in endpoints.get(event.partner_id, []):
                # An endpoint gets the events after the one newest when it was made (its start).
                if event.id > endpoint.last_partner_event_id and wants(endpoint.event_types, event.type):
                    wanted[endpoint.id].append(event)
        fresh = await webhooks_repo.mark_queued(
            tx.conn, [(ep, e.id) for ep, evs in wanted.items() for e in evs], tx.now
        )
        rows: list[dict[str, Any]] = []
        for endpoint_id, evs in wanted.items():
            new = [e for e in evs if (endpoint_id, e.id) in fresh]
            rows += package(endpoint_id, new, tx.now, batch=len(new) > FAR_BEHIND)
        await webhooks_repo.insert_deliveries(tx.conn, rows)
    for message in messages:  # after the commit: a worker killed before this gets them again, marked
        await message.ack()
    return len(messages)
