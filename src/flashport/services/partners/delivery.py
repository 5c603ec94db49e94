"""Webhook delivery: the queue and the sender.

Queueing (:func:`enqueue`) moves each endpoint's position over its partner's events and writes the
deliveries in one transaction, with the endpoint row locked: each event is queued once per endpoint,
across crashes and concurrent workers. Far behind (more than ``FAR_BEHIND`` events in a pass), several
go in one delivery (``"type": "batch"``).

Sending (:func:`send_due`) leases due deliveries, posts them outside any transaction, then records the
answer: 2xx delivered; 410 disables the endpoint; anything else retries on the schedule of
:mod:`flashport.domain.webhooks` (a 429's or 503's ``Retry-After`` honoured), and the delivery fails when
the schedule is spent. An endpoint with no success for ``DISABLE_AFTER`` is disabled, and its owner is
told by an outbox record (``webhook_endpoint.disabled``, which the relay puts in the partner's feed).
A sender killed mid-send sends again when the lease ends, with the same ``webhook-id``: at least once,
and receivers drop duplicates by that id."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx

from flashport.adapters.db import webhooks_repo as repo
from flashport.adapters.tls import tls
from flashport.adapters.webhook_address import AddressRefused, resolve_checked
from flashport.domain.webhooks import DISABLE_AFTER, Outcome, judge, sign
from flashport.services.context import Context, Tx
from flashport.services.partners.feed import event_id

FAR_BEHIND = 10  # queued events past which an endpoint gets batches
BATCH_SIZE = 100
ENQUEUE_PEEK = 1000  # events read per endpoint per pass
RECOVER_LIMIT = 50_000
SEND_LIMIT = 100  # deliveries sent per pass
LEASE = timedelta(seconds=60)
TIMEOUT_SECONDS = 10.0


def wants(event_types: Sequence[str], type_: str) -> bool:
    return not event_types or type_ in event_types


def event_json(e: Any) -> dict[str, Any]:
    return {
        "id": event_id(e.id),
        "type": e.type,
        "subject": e.subject,
        "subject_seq": e.subject_seq,
        "occurred_at": e.occurred_at.isoformat(),
        "data": e.data,
        "link": e.link,
    }


def package(endpoint_id: int, events: Sequence[Any], now: datetime, *, batch: bool) -> list[dict[str, Any]]:
    """Delivery rows for ``events``: one each, or batches of ``BATCH_SIZE`` when ``batch``."""
    groups = (
        [events[i : i + BATCH_SIZE] for i in range(0, len(events), BATCH_SIZE)]
        if batch
        else [[e] for e in events]
    )
    rows = []
    for group in groups:
        if len(group) == 1:
            body = {
                "type": group[0].type,
                "timestamp": group[0].occurred_at.isoformat(),
                "data": event_json(group[0]),
            }
        else:
            body = {
                "type": "batch",
                "timestamp": now.isoformat(),
                "data": {"events": [event_json(e) for e in group]},
            }
        rows.append(
            {
                "endpoint_id": endpoint_id,
                "message_id": f"msg_{uuid.uuid4().hex}",
                "first_event_id": group[0].id,
                "last_event_id": group[-1].id,
                "body": json.dumps(body, ensure_ascii=False, separators=(",", ":")),
                "status": "pending",
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
            }
        )
    return rows


async def enqueue(ctx: Context, limit: int = 100) -> int:
    """Queue the new events of up to ``limit`` endpoints; returns the deliveries written."""
    written = 0
    async with ctx.transaction() as tx:
        for endpoint in await repo.claim_endpoints_behind(tx.conn, limit):
            events = await repo.events_after(
                tx.conn, endpoint.partner_id, endpoint.last_partner_event_id, ENQUEUE_PEEK
            )
            wanted = [e for e in events if wants(endpoint.event_types, e.type)]
            rows = package(endpoint.id, wanted, tx.now, batch=len(wanted) > FAR_BEHIND)
            await repo.insert_deliveries(tx.conn, rows)
            await repo.update_endpoint(tx.conn, endpoint.id, last_partner_event_id=events[-1].id)
            written += len(rows)
    return written


@dataclass(frozen=True)
class Answer:
    status: int | None
    retry_after: str | None
    error: str | None


async def send_due(ctx: Context, http: httpx.AsyncClient | None = None, limit: int = SEND_LIMIT) -> int:
    """Send the deliveries due now; returns how many were delivered."""
    now = ctx.clock()
    async with ctx.transaction() as tx:
        due = await repo.claim_due(tx.conn, now, now + LEASE, limit)
    if not due:
        return 0
    own = http is None
    client = http or httpx.AsyncClient(
        timeout=TIMEOUT_SECONDS, follow_redirects=False, trust_env=False, verify=tls()
    )
    allow_private = ctx.settings.webhooks_reach_private_addresses
    try:
        answers = await asyncio.gather(
            *(_post(client, row, headers_for(ctx, row, now), allow_private) for row in due)
        )
    finally:
        if own:
            await client.aclose()
    delivered = 0
    async with ctx.transaction() as tx:  # one commit for the pass's answers: they are many in a rush
        for row, answer in zip(due, answers, strict=True):
            delivered += await _record(tx, row, answer)
    return delivered


def headers_for(ctx: Context, row: Any, now: datetime) -> dict[str, str]:
    timestamp = int(now.timestamp())
    keys = [ctx.secrets.open(row.secret)]  # sealed at rest; opened only to sign
    if row.previous_secret and row.previous_until and row.previous_until > now:
        keys.append(ctx.secrets.open(row.previous_secret))
    return {
        "content-type": "application/json",
        "webhook-id": row.message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(keys, row.message_id, timestamp, row.body),
    }


async def _post(client: httpx.AsyncClient, row: Any, headers: dict[str, str], allow_private: bool) -> Answer:
    try:
        # Resolved and checked now, and sent to the address checked (SSRF); redirects not followed.
        target = await resolve_checked(row.url, allow_private=allow_private)
    except AddressRefused as exc:
        return Answer(None, None, f"refused: {exc}"[:500])
    try:
        response = await client.post(
            target.url,
            content=row.body.encode(),
            headers={**headers, "host": target.host},
            extensions={"sni_hostname": target.host.rsplit(":", 1)[0].strip("[]")},
            follow_redirects=False,
        )
    except httpx.HTTPError as exc:
        return Answer(None, None, f"{type(exc).__name__}: {exc}"[:500])
    error = None if response.is_success else response.text[:500]
    return Answer(response.status_code, response.headers.get("retry-after"), error)


async def _record(tx: Tx, row: Any, answer: Answer) -> int:
    verdict = judge(answer.status, answer.retry_after, row.attempts, tx.now)
    if verdict.outcome is Outcome.DELIVERED:
        await repo.update_delivery(
            tx.conn,
            row.id,
            status="delivered",
            delivered_at=tx.now,
            last_status_code=answer.status,
            last_error=None,
        )
        await repo.update_endpoint(tx.conn, row.endpoint_id, failing_since=None)
        return 1
    if verdict.outcome is Outcome.GONE:
        # Not the delivery's fault: it waits, pending, in case the endpoint is enabled again.
        await repo.update_delivery(
            tx.conn,
            row.id,
            next_attempt_at=tx.now,
            attempts=0,
            last_status_code=410,
            last_error=answer.error,
        )
        await _disable(tx, row, "the receiver answered 410 Gone")
        return 0
    values: dict[str, Any] = {"last_status_code": answer.status, "last_error": answer.error}
    if verdict.retry_at is None:
        values["status"] = "failed"
    else:
        values["next_attempt_at"] = verdict.retry_at
    await repo.update_delivery(tx.conn, row.id, **values)
    endpoint = await repo.endpoint(tx.conn, None, row.endpoint_id, lock=True)
    failing_since = endpoint.failing_since or tx.now
    if endpoint.failing_since is None:
        await repo.update_endpoint(tx.conn, row.endpoint_id, failing_since=tx.now)
    if endpoint.disabled_at is None and tx.now - failing_since >= DISABLE_AFTER:
        await _disable(tx, row, f"no successful delivery since {failing_since.isoformat()}")
    return 0


async def _disable(tx: Tx, row: Any, reason: str) -> None:
    await repo.update_endpoint(tx.conn, row.endpoint_id, disabled_at=tx.now, disabled_reason=reason)
    await tx.emit(
        "webhook_endpoint.disabled",
        f"partner:{row.partner_id}",
        {"endpoint_id": row.endpoint_id, "url": row.url, "reason": reason},
    )
