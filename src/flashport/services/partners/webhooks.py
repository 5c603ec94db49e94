"""Webhook endpoints: a partner (or an operator for it) registers URLs with the event types wanted,
gets the signing secret once, rotates it with an overlap, re-enables a disabled endpoint, resends one
delivery or recovers everything since a time. Deliveries themselves: :mod:`.delivery`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flashport.adapters.db import webhooks_repo as repo
from flashport.adapters.webhook_address import check_endpoint_address
from flashport.domain.errors import NotFound
from flashport.domain.webhooks import check_endpoint_url, new_secret
from flashport.services.context import Context
from flashport.services.partners import delivery


@dataclass(frozen=True)
class Endpoint:
    id: int
    partner_id: int
    url: str
    event_types: list[str]
    failing_since: datetime | None
    disabled_at: datetime | None
    disabled_reason: str | None
    created_at: datetime


@dataclass(frozen=True)
class EndpointWithSecret:
    endpoint: Endpoint
    secret: str  # whsec_...: shown when made and when rotated


@dataclass(frozen=True)
class DeliveryInfo:
    id: int
    message_id: str
    first_event_id: int
    last_event_id: int
    status: str
    attempts: int
    next_attempt_at: datetime
    last_status_code: int | None
    last_error: str | None
    delivered_at: datetime | None


def _endpoint(row: Any) -> Endpoint:
    return Endpoint(
        row.id,
        row.partner_id,
        row.url,
        list(row.event_types),
        row.failing_since,
        row.disabled_at,
        row.disabled_reason,
        row.created_at,
    )


def _missing() -> NotFound:
    return NotFound("no such webhook endpoint", code="endpoint_not_found")


async def create(ctx: Context, partner_id: int, url: str, event_types: list[str]) -> EndpointWithSecret:
    """A new endpoint receives the partner's events from now on (older ones: :func:`recover`)."""
    check_endpoint_url(url, production=ctx.settings.env == "production")
    await check_endpoint_address(url, allow_private=ctx.settings.webhooks_reach_private_addresses)
    secret = new_secret()
    async with ctx.transaction() as tx:
        start = await repo.newest_event_id(tx.conn, partner_id)
        row = await repo.insert_endpoint(
            tx.conn,
            partner_id=partner_id,
            url=url,
            event_types=sorted(set(event_types)),
            secret=ctx.secrets.seal(secret),
            start_after=start,
            now=tx.now,
        )
    return EndpointWithSecret(_endpoint(row), secret)


async def list_for(ctx: Context, partner_id: int) -> list[Endpoint]:
    async with ctx.read() as conn:
        return [_endpoint(r) for r in await repo.endpoints_of(conn, partner_id)]


async def rotate_secret(
    ctx: Context, partner_id: int, endpoint_id: int, overlap: timedelta
) -> EndpointWithSecret:
    """A new secret; deliveries are signed with both until the overlap ends, so the receiver can switch."""
    secret = new_secret()
    async with ctx.transaction() as tx:
        row = await repo.endpoint(tx.conn, partner_id, endpoint_id, lock=True)
        if row is None:
            raise _missing()
        await repo.update_endpoint(
            tx.conn,
            endpoint_id,
            secret=ctx.secrets.seal(secret),
            previous_secret=row.secret,  # already sealed
            previous_until=tx.now + overlap,
        )
        row = await repo.endpoint(tx.conn, partner_id, endpoint_id)
    return EndpointWithSecret(_endpoint(row), secret)


async def enable(ctx: Context, partner_id: int, endpoint_id: int) -> Endpoint:
    async with ctx.transaction() as tx:
        if await repo.endpoint(tx.conn, partner_id, endpoint_id, lock=True) is None:
            raise _missing()
        await repo.update_endpoint(
            tx.conn, endpoint_id, disabled_at=None, disabled_reason=None, failing_since=None
        )
        row = await repo.endpoint(tx.conn, partner_id, endpoint_id)
    return _endpoint(row)


async def deliveries(ctx: Context, partner_id: int, endpoint_id: int, limit: int = 100) -> list[DeliveryInfo]:
    async with ctx.read() as conn:
        if await repo.endpoint(conn, partner_id, endpoint_id) is None:
            raise _missing()
        rows = await repo.deliveries_of(conn, endpoint_id, limit)
    return [
        DeliveryInfo(
            r.id,
            r.message_id,
            r.first_event_id,
            r.last_event_id,
            r.status,
            r.attempts,
            r.next_attempt_at,
            r.last_status_code,
            r.last_error,
            r.delivered_at,
        )
        for r in rows
    ]


async def resend(ctx: Context, partner_id: int, delivery_id: int) -> None:
    """Send one delivery again, now, with the same ``webhook-id`` (a receiver that has it ignores it)."""
    async with ctx.transaction() as tx:
        if await repo.delivery(tx.conn, partner_id, delivery_id) is None:
            raise NotFound("no such delivery", code="delivery_not_found")
        await repo.update_delivery(tx.conn, delivery_id, status="pending", attempts=0, next_attempt_at=tx.now)


async def recover(ctx: Context, partner_id: int, endpoint_id: int, since: datetime) -> int:
    """Queue again every event since ``since`` already past the endpoint (new deliveries, batched);
    returns how many events were queued."""
    async with ctx.transaction() as tx:
        row = await repo.endpoint(tx.conn, partner_id, endpoint_id, lock=True)
        if row is None:
            raise _missing()
        events = await repo.events_since(
            tx.conn, partner_id, since, row.last_partner_event_id, delivery.RECOVER_LIMIT
        )
        wanted = [e for e in events if delivery.wants(row.event_types, e.type)]
        await repo.insert_deliveries(tx.conn, delivery.package(row.id, wanted, tx.now, batch=True))
    return len(wanted)
