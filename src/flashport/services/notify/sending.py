"""The notifier's second half: send the queued messages that are due, a bounded batch at a time.

A batch is leased first (its next attempt pushed ahead by :data:`LEASE`, committed), then sent
outside any transaction, then each result recorded: sent, or a failure with the next attempt after a
growing delay (:func:`flashport.domain.notifications.retry_delay`), failed for good after
:data:`~flashport.domain.notifications.MAX_ATTEMPTS`. A worker that dies mid-batch leaves its lease to
run out, and the messages are sent again (at-least-once; the Message-ID stays the same)."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncConnection

from flashport.adapters.db import notify_repo
from flashport.adapters.db.notify_repo import Due
from flashport.adapters.notify.channels import ChannelFailed, Channels, Outgoing, channels_for
from flashport.adapters.notify.render import render
from flashport.domain import notifications as rules
from flashport.domain.notifications import Channel, Kind, Preferences
from flashport.services.context import Context

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=2)
BATCH = 50  # messages in hand at once: each is an SMTP or SMS conversation


def channels(ctx: Context) -> Channels:
    if ctx.notify_channels is None:
        ctx.notify_channels = channels_for(ctx.settings)
    return ctx.notify_channels


async def send_due(ctx: Context) -> int:
    """Send up to :data:`BATCH` due messages; returns how many were taken in hand."""
    async with ctx.transaction() as tx:
        due = await notify_repo.claim_due(tx.conn, tx.now, BATCH, LEASE)
        if not due:
            return 0
        users = {d.user_id for d in due}
        prefs = await notify_repo.preferences(tx.conn, users)
        emails = await notify_repo.emails(tx.conn, users)
        skipped = _without_purpose(due, prefs, emails)
        skipped |= await _paid_meanwhile(tx.conn, due)
        await notify_repo.mark_skipped(tx.conn, sorted(skipped), "nothing to send any more")
    sendable = [d for d in due if d.id not in skipped]
    results = await asyncio.gather(*(_send_one(ctx, d, prefs[d.user_id], emails) for d in sendable))
    async with ctx.transaction() as tx:
        sent = [(d.id, d.attempts + 1) for d, error in zip(sendable, results, strict=True) if error is None]
        await notify_repo.mark_sent(tx.conn, sent, tx.now)
        for item, error in zip(sendable, results, strict=True):
            if error is None:
                continue
            attempts = item.attempts + 1
            final = attempts >= rules.MAX_ATTEMPTS
            log.warning("notification %d (%s) failed, attempt %d: %s", item.id, item.kind, attempts, error)
            next_at = tx.now + rules.retry_delay(attempts)
            await notify_repo.mark_failure(tx.conn, item.id, attempts, error, next_at, final=final)
    return len(due)


def _address(item: Due, pref: Preferences, emails: dict[int, str]) -> str | None:
    return pref.mobile if item.channel == Channel.SMS.value else emails.get(item.user_id)


def _without_purpose(due: list[Due], prefs: dict[int, Preferences], emails: dict[int, str]) -> set[int]:
    """Messages whose kind the buyer turned off, or whose address is gone, since they were queued."""
    return {
        d.id
        for d in due
        if not prefs[d.user_id].wants(Kind(d.kind)) or _address(d, prefs[d.user_id], emails) is None
    }


async def _paid_meanwhile(conn: AsyncConnection, due: list[Due]) -> set[int]:
    """ "Five minutes left to pay" for orders paid (or closed) since it was queued."""
    asked = {d.id: d.values.get("order_no", "") for d in due if d.kind == Kind.PAY_SOON.value}
    if not asked:
        return set()
    pending = await notify_repo.still_pending(conn, asked.values())
    return {i for i, order_no in asked.items() if order_no not in pending}


async def _send_one(ctx: Context, item: Due, pref: Preferences, emails: dict[int, str]) -> str | None:
    """None when handed over, else the reason it was not."""
    channel = Channel(item.channel)
    to = _address(item, pref, emails)
    assert to is not None  # messages without an address were skipped
    text = render(Kind(item.kind), channel, pref.language, item.values)
    message = Outgoing(to, text.subject, text.body, f"notification-{item.id}", pref.language)
    out = channels(ctx)
    try:
        await (out.sms if channel is Channel.SMS else out.email).send(message)
    except ChannelFailed as exc:
        return str(exc)
    return None
