"""The notifier's first half: what should be said, to whom, queued once.

:func:`queue_from_outbox` follows the outbox with its own cursor (``relay_cursors`` row ``notifier``):
the records it reads, the messages they make and the cursor's move are one transaction under the
cursor's lock, so a pass killed half-way is done again whole and never queues twice (the message's
``key`` is its idempotency record besides). :func:`queue_due` queues what time makes due: five minutes
left to pay, and the reminders of sales that have opened."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from flashport.adapters.db import notify_repo, outbox_repo
from flashport.adapters.db import partner_events_repo as cursors
from flashport.adapters.db.outbox_repo import StoredRecord
from flashport.domain import notifications as rules
from flashport.domain.notifications import Kind
from flashport.services.context import Context, Tx

CURSOR = "notifier"
BATCH = 200  # outbox records per pass, and due messages of each kind


@dataclass(frozen=True)
class Intent:
    """One thing to tell one buyer; ``key`` names it once and for all (channels are added to it)."""

    kind: Kind
    user_id: int
    subject: str
    key: str
    values: dict[str, str]


async def queue_from_outbox(ctx: Context, *, limit: int | None = None) -> int:
    """Read up to ``limit`` settled outbox records after the notifier's cursor and queue their
    messages; returns the records read (a full batch: call again at once)."""
    async with ctx.transaction() as tx:
        tx_seq, last_id = await cursors.lock_cursor(tx.conn, CURSOR, tx.now)
        records = await outbox_repo.read_after(tx.conn, tx_seq, last_id, limit=limit or BATCH)
        if not records:
            return 0
        intents = await _order_intents(ctx, tx.conn, records)
        intents += await _account_intents(ctx, tx.conn, records)
        intents += await _waitlist_intents(ctx, tx, records)
        await enqueue(tx, intents)
        last = records[-1]
        await cursors.move_cursor(tx.conn, CURSOR, last.tx_seq or 0, last.id, tx.now)
    return len(records)


async def queue_due(ctx: Context) -> int:
    """Queue the five-minutes-to-pay messages and the openings of reminded sales; returns how many
    things were queued (a full batch of either: call again at once)."""
    batch = BATCH
    async with ctx.transaction() as tx:
        near = await notify_repo.orders_near_deadline(tx.conn, tx.now, rules.PAY_SOON_BEFORE, batch)
        intents = [
            Intent(
                Kind.PAY_SOON,
                int(o.buyer_id),
                f"order:{o.order_no}",
                f"pay_soon:order:{o.order_no}",
                {"order_no": o.order_no, "link": _link(ctx, f"/orders/{o.order_no}")},
            )
            for o in near
        ]
        opened = await notify_repo.openings_due(tx.conn, tx.now, batch)
        intents += [
            Intent(
                Kind.SALE_OPENS,
                int(r.user_id),
                f"event:{r.event_id}",
                f"sale_opens:{r.event_id}:{r.user_id}",
                {"title": r.title, "link": _link(ctx, f"/events/{r.event_id}")},
            )
            for r in opened
        ]
        await notify_repo.mark_reminded(tx.conn, ((r.event_id, r.user_id) for r in opened), tx.now)
        await enqueue(tx, intents)
    return max(len(near), len(opened))


async def enqueue(tx: Tx, intents: Sequence[Intent]) -> int:
    """One row per intent and channel, in the buyer's preferences: a kind the buyer turned off is
    recorded as ``muted`` (so it is decided once, and never sent)."""
    if not intents:
        return 0
    users = {i.user_id for i in intents}
    prefs = await notify_repo.preferences(tx.conn, users)
    rows: list[dict[str, Any]] = []
    for intent in intents:
        pref = prefs[intent.user_id]
        for channel in rules.channels(intent.kind, has_mobile=pref.mobile is not None):
            rows.append(
                {
                    "key": f"{intent.key}:{channel.value}",
                    "user_id": intent.user_id,
                    "kind": intent.kind.value,
                    "channel": channel.value,
                    "subject": intent.subject,
                    "data": intent.values,
                    "status": "pending" if pref.wants(intent.kind) else "muted",
                    "attempts": 0,
                    "next_attempt_at": tx.now,
                    "created_at": tx.now,
                }
            )
    return await notify_repo.queue(tx.conn, rows)


def _link(ctx: Context, path: str) -> str:
    return ctx.settings.public_url.rstrip("/") + path


def _order_no(subject: str) -> str | None:
    return subject[6:] if subject.startswith("order:") else None


async def _order_intents(
    ctx: Context, conn: AsyncConnection, records: Iterable[StoredRecord]
) -> list[Intent]:
    wanted = [(r, k) for r in records if (k := rules.kind_of(r.type)) is not None and _order_no(r.subject)]
    buyers = await notify_repo.buyers_of(conn, (_order_no(r.subject) or "" for r, _ in wanted))
    intents = []
    for record, kind in wanted:
        order_no = _order_no(record.subject) or ""
        if order_no not in buyers:
            continue
        values = rules.message_values(record.type, {**record.payload, "order_no": order_no})
        values["link"] = _link(ctx, f"/orders/{order_no}")
        intents.append(Intent(kind, buyers[order_no], record.subject, f"{kind.value}:{record.id}", values))
    return intents


async def _account_intents(
    ctx: Context, conn: AsyncConnection, records: Iterable[StoredRecord]
) -> list[Intent]:
    """The account mails the accounts service asked for (``mail.requested``): the welcome of a new
    account (subject ``user:<id>``), and the note to an account's owner that someone registered with
    its address (found by the address: the record's subject masks it)."""
    wanted = [
        (r, kind)
        for r in records
        if r.type == rules.MAIL_REQUESTED
        and (kind := rules.kind_of_mail(str(r.payload.get("template", "")))) is not None
    ]
    if not wanted:
        return []
    owners = await notify_repo.users_by_email(conn, {str(r.payload.get("to", "")) for r, _ in wanted})
    intents = []
    for record, kind in wanted:
        user_id = owners.get(str(record.payload.get("to", "")))
        if user_id is None:  # the account is gone: nobody to tell
            continue
        values = {str(k): str(v) for k, v in (record.payload.get("values") or {}).items()}
        values["link"] = _link(ctx, "/login")
        intents.append(Intent(kind, user_id, f"user:{user_id}", f"{kind.value}:{record.id}", values))
    return intents


async def _waitlist_intents(ctx: Context, tx: Tx, records: Iterable[StoredRecord]) -> list[Intent]:
    """Units came back (an order expired or was cancelled): tell as many waiting buyers as units came
    back, first come first served, and mark them told so the next units go to the next buyers."""
    back = [
        (r, int(line["sale_item_id"]), int(line.get("units_returned") or 0))
        for r in records
        if r.type in rules.UNITS_BACK and r.payload.get("sale_item_id") is not None
        # A checked-out basket's order returns units of each of its lines' items.
        for line in r.payload.get("lines") or [r.payload]
    ]
    if not back:
        return []
    titles = await notify_repo.item_titles(tx.conn, {item for _, item, _ in back})
    intents = []
    for record, item_id, units in back:
        told = rules.to_tell(await notify_repo.waiting(tx.conn, item_id, units), units)
        await notify_repo.mark_told(tx.conn, [w.place_id for w in told], tx.now)
        title, title_zh = titles.get(item_id, ("", ""))
        values = {"title": title, "title_zh": title_zh, "link": _link(ctx, f"/items/{item_id}")}
        intents += [
            Intent(Kind.WAITLIST, w.buyer_id, f"item:{item_id}", f"waitlist:{w.place_id}:{record.id}", values)
            for w in told
        ]
    return intents
