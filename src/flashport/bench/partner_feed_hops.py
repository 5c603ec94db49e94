"""Where a partner event's time goes, hop by hop, from the rows and marks each hop leaves: its commit
(the bench's clock when the commit was answered), its partner event (``partner_events.created_at``,
when the relay's transaction began), with NATS the time JetStream stored it (the stream's own
timestamp), its delivery row (``webhook_deliveries.created_at``, when the queueing transaction began),
the send's answer recorded (``delivered_at``) and its first arrival at the receiver.

Each hop is from the previous mark to the next, per (receiver, event), so the hops of one event add up
to its commit-to-delivery time (a mark taken at a transaction's start can precede the previous hop's
commit: such a hop can be slightly negative)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from flashport.adapters.db.partners_schema import partner_events, webhook_deliveries
from flashport.bench.report import percentile

Receipt = tuple[str, str]  # (receiver, "event id|subject|type")


@dataclass(frozen=True)
class Hop:
    name: str
    p50_ms: float
    p99_ms: float
    max_ms: float


@dataclass(frozen=True)
class _Delivery:
    created: float
    delivered: float


async def hops(
    conn: AsyncConnection,
    first_seen: Mapping[Receipt, float],
    committed_at: Mapping[Receipt, float],
    endpoints: Mapping[str, int],
    stored: Mapping[str, datetime] | None,
) -> list[Hop]:
    """The hops of every received (receiver, event); ``stored``: JetStream's time per message id
    (``evt_<id>``), or None on the SQL outbox."""
    relayed = {
        f"evt_{i}": at.timestamp()
        for i, at in (await conn.execute(sa.select(partner_events.c.id, partner_events.c.created_at))).all()
    }
    queued = await _deliveries(conn)
    names = ["committed to relayed", *(["relayed to stored"] if stored is not None else [])]
    names += ["to queued", "queued to answered", "answered to received"]
    spans: dict[str, list[int]] = {name: [] for name in names}
    for (who, key), arrived in first_seen.items():
        event = key.split("|", 1)[0]
        delivery = queued.get((endpoints[who], event))
        if delivery is None or event not in relayed:
            continue
        marks = [committed_at[(who, key)], relayed[event]]
        if stored is not None:
            marks.append(stored[event].timestamp() if event in stored else marks[-1])
        marks += [delivery.created, delivery.delivered, arrived]
        for name, start, end in zip(names, marks[:-1], marks[1:], strict=True):
            spans[name].append(int((end - start) * 1e9))
    return [_hop(name, sorted(values)) for name, values in spans.items()]


async def _deliveries(conn: AsyncConnection) -> dict[tuple[int, str], _Delivery]:
    """The first delivered row carrying each (endpoint, event)."""
    rows = await conn.execute(
        sa.select(
            webhook_deliveries.c.endpoint_id,
            webhook_deliveries.c.body,
            webhook_deliveries.c.created_at,
            webhook_deliveries.c.delivered_at,
        )
        .where(webhook_deliveries.c.delivered_at.is_not(None))
        .order_by(webhook_deliveries.c.delivered_at)
    )
    found: dict[tuple[int, str], _Delivery] = {}
    for endpoint_id, body, created, delivered in rows:
        parsed = json.loads(body)
        events = parsed["data"]["events"] if parsed["type"] == "batch" else [parsed["data"]]
        for event in events:
            found.setdefault(
                (endpoint_id, event["id"]), _Delivery(created.timestamp(), delivered.timestamp())
            )
    return found


def _hop(name: str, values: list[int]) -> Hop:
    def ms(p: float) -> float:
        return round(percentile(values, p) / 1e6, 1) if values else 0.0

    return Hop(name, ms(50), ms(99), round(values[-1] / 1e6, 1) if values else 0.0)
