"""Partner events to NATS JetStream, for fan-out beyond one machine (optional: ``pip install
flashport[nats]``; the embedded default needs none of it).

Each partner event is published once to ``flashport.partners.<partner id>.<type>`` with its event id as
``Nats-Msg-Id``. The publisher's position is a relay cursor moved in the transaction that holds its
lock, after JetStream acknowledged the messages: a publisher killed between the two publishes them
again, and the stream drops the copies by message id (its duplicate window is kept long for that)."""

from __future__ import annotations

import json
from typing import Any

from flashport.adapters.db import partner_events_repo as repo
from flashport.services.context import Context
from flashport.services.partners.delivery import event_json

STREAM = "FLASHPORT_PARTNERS"
SUBJECT_PREFIX = "flashport.partners"
CURSOR = "nats"
DUPLICATE_WINDOW_SECONDS = 3600.0
PASS_LIMIT = 500


def subject_for(partner_id: int, type_: str, prefix: str = SUBJECT_PREFIX) -> str:
    return f"{prefix}.{partner_id}.{type_}"


async def ensure_stream(js: Any, name: str = STREAM, prefix: str = SUBJECT_PREFIX) -> None:
    """The stream exists with our subjects and a duplicate window long enough to cover a restart."""
    # Imported here: nats-py is an optional dependency.
    from nats.js.api import StreamConfig
    from nats.js.errors import NotFoundError

    try:
        await js.stream_info(name)
    except NotFoundError:
        await js.add_stream(
            StreamConfig(name=name, subjects=[f"{prefix}.>"], duplicate_window=DUPLICATE_WINDOW_SECONDS)
        )


async def publish_pass(ctx: Context, js: Any, prefix: str = SUBJECT_PREFIX, limit: int = PASS_LIMIT) -> int:
    """Publish the next partner events; returns how many the stream took as new."""
    new = 0
    async with ctx.transaction() as tx:
        _, last_id = await repo.lock_cursor(tx.conn, CURSOR, tx.now)
        events = await repo.read_all_after(tx.conn, last_id, limit=limit)
        for event in events:
            body = json.dumps(event_json(event), ensure_ascii=False, separators=(",", ":")).encode()
            ack = await js.publish(
                subject_for(event.partner_id, event.type, prefix),
                body,
                headers={"Nats-Msg-Id": f"evt_{event.id}"},
            )
            new += 0 if ack.duplicate else 1
        if events:
            await repo.move_cursor(tx.conn, CURSOR, 0, events[-1].id, tx.now)
    return new
