"""SQL of the buyer notifications: preferences, the queue of messages (with its idempotency key),
sale reminders, waitlist places, and the look-ups the notifier needs to address a message."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from flashport.adapters.db.notify_schema import (
    notification_preferences,
    notifications,
    sale_reminders,
    waitlist_places,
)
from flashport.adapters.db.schema import orders, products, sale_events, sale_items, skus, users
from flashport.domain.notifications import DEFAULT_LANGUAGE, Preferences, WaitingBuyer, parse_kinds


def _insert(conn: AsyncConnection, table: sa.Table) -> Any:
    return (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(table)


# --- preferences ---------------------------------------------------------------------------------


async def preferences(conn: AsyncConnection, user_ids: Iterable[int]) -> dict[int, Preferences]:
    """Every given buyer's preferences; the defaults for those who never chose."""
    ids = set(user_ids)
    found = {
        int(r.user_id): Preferences(r.language, r.mobile, parse_kinds(r.muted))
        for r in await conn.execute(
            sa.select(notification_preferences).where(notification_preferences.c.user_id.in_(ids))
        )
    }
    return {i: found.get(i, Preferences(DEFAULT_LANGUAGE)) for i in ids}


async def save_preferences(conn: AsyncConnection, user_id: int, prefs: Preferences, now: datetime) -> None:
    values = {
        "language": prefs.language,
        "mobile": prefs.mobile,
        "muted": sorted(k.value for k in prefs.muted),
        "updated_at": now,
    }
    statement = _insert(conn, notification_preferences).values(user_id=user_id, **values)
    await conn.execute(statement.on_conflict_do_update(index_elements=["user_id"], set_=values))


async def save_language(
    conn: AsyncConnection, user_id: int, language: str, now: datetime, *, only_if_unset: bool = False
) -> bool:
    """Set the language of the buyer's messages, keeping their other choices (a buyer who never chose
    gets the defaults with it). ``only_if_unset``: leave a buyer who has preferences as they are.
    True when a row was written."""
    values = {"language": language, "updated_at": now}
    statement = _insert(conn, notification_preferences).values(
        user_id=user_id, mobile=None, muted=[], **values
    )
    if only_if_unset:
        statement = statement.on_conflict_do_nothing(index_elements=["user_id"])
    else:
        statement = statement.on_conflict_do_update(index_elements=["user_id"], set_=values)
    result = await conn.execute(statement)
    return (result.rowcount or 0) > 0


async def emails(conn: AsyncConnection, user_ids: Iterable[int]) -> dict[int, str]:
    query = sa.select(users.c.id, users.c.email).where(users.c.id.in_(set(user_ids)))
    return {int(r.id): r.email for r in await conn.execute(query)}


async def users_by_email(conn: AsyncConnection, addresses: Iterable[str]) -> dict[str, int]:
    """The accounts of these (normalised) e-mail addresses, by address."""
    query = sa.select(users.c.email, users.c.id).where(users.c.email.in_(set(addresses)))
    return {str(r.email): int(r.id) for r in await conn.execute(query)}


async def buyers_of(conn: AsyncConnection, order_nos: Iterable[str]) -> dict[str, int]:
    query = sa.select(orders.c.order_no, orders.c.buyer_id).where(orders.c.order_no.in_(set(order_nos)))
    return {r.order_no: int(r.buyer_id) for r in await conn.execute(query)}


# --- the queue -----------------------------------------------------------------------------------


async def queue(conn: AsyncConnection, rows: Sequence[Mapping[str, Any]]) -> int:
    """Insert the messages whose key is new; a key seen before (a repeated pass) is skipped."""
    if not rows:
        return 0
    result = await conn.execute(
        _insert(conn, notifications).on_conflict_do_nothing(index_elements=["key"]), list(rows)
    )
    return max(result.rowcount or 0, 0)


@dataclass(frozen=True)
class Due:
    id: int
    user_id: int
    kind: str
    channel: str
    values: dict[str, str]
    attempts: int


async def claim_due(conn: AsyncConnection, now: datetime, limit: int, lease: timedelta) -> list[Due]:
    """Up to ``limit`` pending messages due now, leased until ``now + lease`` (moved out of reach of
    other workers by pushing their next attempt), oldest first."""
    query = (
        sa.select(notifications)
        .where(notifications.c.status == "pending", notifications.c.next_attempt_at <= now)
        .order_by(notifications.c.next_attempt_at, notifications.c.id)
        .limit(limit)
    )
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    rows = list(await conn.execute(query))
    if rows:
        await conn.execute(
            notifications.update()
            .where(notifications.c.id.in_([r.id for r in rows]))
            .values(next_attempt_at=now + lease)
        )
    return [Due(int(r.id), int(r.user_id), r.kind, r.channel, dict(r.data), r.attempts) for r in rows]


async def mark_sent(conn: AsyncConnection, sent: Sequence[tuple[int, int]], now: datetime) -> None:
    """Messages handed over, as (id, attempts): one statement per number of attempts (a batch's
    messages are nearly all at their first), not one per message."""
    by_attempts: dict[int, list[int]] = {}
    for notification_id, attempts in sent:
        by_attempts.setdefault(attempts, []).append(notification_id)
    for attempts, ids in sorted(by_attempts.items()):
        await conn.execute(
            notifications.update()
            .where(notifications.c.id.in_(sorted(ids)))
            .values(status="sent", attempts=attempts, sent_at=now, last_error=None)
        )


async def mark_skipped(conn: AsyncConnection, notification_ids: Sequence[int], why: str) -> None:
    """Nothing to send any more (the order was paid meanwhile, the kind turned off, no address)."""
    if notification_ids:
        await conn.execute(
            notifications.update()
            .where(notifications.c.id.in_(list(notification_ids)))
            .values(status="skipped", last_error=why[:500])
        )


async def still_pending(conn: AsyncConnection, order_nos: Iterable[str]) -> set[str]:
    """Which of the orders still await payment."""
    wanted = set(order_nos)
    if not wanted:
        return set()
    query = sa.select(orders.c.order_no).where(
        orders.c.order_no.in_(wanted), orders.c.status == "pending_payment"
    )
    return set(await conn.scalars(query))


async def mark_failure(
    conn: AsyncConnection, notification_id: int, attempts: int, error: str, next_at: datetime, *, final: bool
) -> None:
    await conn.execute(
        notifications.update()
        .where(notifications.c.id == notification_id)
        .values(
            status="failed" if final else "pending",
            attempts=attempts,
            last_error=error[:500],
            next_attempt_at=next_at,
        )
    )


async def of_user(conn: AsyncConnection, user_id: int, limit: int = 50) -> list[Any]:
    query = (
        sa.select(notifications)
        .where(notifications.c.user_id == user_id)
        .order_by(notifications.c.id.desc())
        .limit(limit)
    )
    return list(await conn.execute(query))


# --- what time makes due -------------------------------------------------------------------------


async def orders_near_deadline(
    conn: AsyncConnection, now: datetime, before: timedelta, limit: int
) -> list[Any]:
    """Pending orders whose deadline is less than ``before`` away and whose reminder was not queued."""
    key = sa.literal("pay_soon:order:") + orders.c.order_no + sa.literal(":email")
    queued = sa.exists().where(notifications.c.key == key)
    query = (
        sa.select(orders.c.order_no, orders.c.buyer_id, orders.c.payment_deadline)
        .where(
            orders.c.status == "pending_payment",
            orders.c.payment_deadline > now,
            orders.c.payment_deadline <= now + before,
            ~queued,
        )
        .order_by(orders.c.payment_deadline)
        .limit(limit)
    )
    return list(await conn.execute(query))


async def openings_due(conn: AsyncConnection, now: datetime, limit: int) -> list[Any]:
    """Reminders of scheduled sales that have opened, not yet queued."""
    query = (
        sa.select(sale_reminders.c.event_id, sale_reminders.c.user_id, sale_events.c.title)
        .join(sale_events, sale_events.c.id == sale_reminders.c.event_id)
        .where(
            sale_reminders.c.sent_at.is_(None),
            sale_events.c.starts_at <= now,
            sale_events.c.ends_at > now,
            sale_events.c.state == "scheduled",
        )
        .limit(limit)
    )
    return list(await conn.execute(query))


async def mark_reminded(conn: AsyncConnection, pairs: Iterable[tuple[int, int]], now: datetime) -> None:
    for event_id, user_id in pairs:
        await conn.execute(
            sale_reminders.update()
            .where(sale_reminders.c.event_id == event_id, sale_reminders.c.user_id == user_id)
            .values(sent_at=now)
        )


async def add_reminder(conn: AsyncConnection, event_id: int, user_id: int, now: datetime) -> bool:
    result = await conn.execute(
        _insert(conn, sale_reminders)
        .values(event_id=event_id, user_id=user_id, created_at=now)
        .on_conflict_do_nothing(index_elements=["event_id", "user_id"])
    )
    return bool(result.rowcount)


async def remove_reminder(conn: AsyncConnection, event_id: int, user_id: int) -> None:
    await conn.execute(
        sale_reminders.delete().where(
            sale_reminders.c.event_id == event_id, sale_reminders.c.user_id == user_id
        )
    )


async def has_reminder(conn: AsyncConnection, event_id: int, user_id: int) -> bool:
    query = sa.select(sale_reminders.c.event_id).where(
        sale_reminders.c.event_id == event_id, sale_reminders.c.user_id == user_id
    )
    return (await conn.scalar(query)) is not None


# --- waitlists -----------------------------------------------------------------------------------


async def join(conn: AsyncConnection, item_id: int, user_id: int, now: datetime) -> None:
    """A place at the back; a buyer already waiting keeps theirs (one place per buyer)."""
    await conn.execute(
        _insert(conn, waitlist_places)
        .values(sale_item_id=item_id, user_id=user_id, joined_at=now)
        .on_conflict_do_nothing(index_elements=["sale_item_id", "user_id"])
    )


async def leave(conn: AsyncConnection, item_id: int, user_id: int) -> bool:
    result = await conn.execute(
        waitlist_places.delete().where(
            waitlist_places.c.sale_item_id == item_id, waitlist_places.c.user_id == user_id
        )
    )
    return bool(result.rowcount)


async def place_of(conn: AsyncConnection, item_id: int, user_id: int) -> Any:
    """The buyer's place (id, told_at) and how many still waiting are ahead of them; None: not on it."""
    mine = (
        await conn.execute(
            sa.select(waitlist_places.c.id, waitlist_places.c.told_at).where(
                waitlist_places.c.sale_item_id == item_id, waitlist_places.c.user_id == user_id
            )
        )
    ).first()
    if mine is None:
        return None
    ahead = await conn.scalar(
        sa.select(sa.func.count())
        .select_from(waitlist_places)
        .where(
            waitlist_places.c.sale_item_id == item_id,
            waitlist_places.c.told_at.is_(None),
            waitlist_places.c.id < mine.id,
        )
    )
    return mine.id, mine.told_at, int(ahead or 0)


async def waiting(conn: AsyncConnection, item_id: int, limit: int) -> list[WaitingBuyer]:
    """The first ``limit`` buyers not yet told, in order of joining, locked for the caller."""
    query = (
        sa.select(waitlist_places.c.id, waitlist_places.c.user_id)
        .where(waitlist_places.c.sale_item_id == item_id, waitlist_places.c.told_at.is_(None))
        .order_by(waitlist_places.c.id)
        .limit(limit)
    )
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    return [WaitingBuyer(int(r.id), int(r.user_id)) for r in await conn.execute(query)]


async def mark_told(conn: AsyncConnection, place_ids: Sequence[int], now: datetime) -> None:
    if place_ids:
        await conn.execute(
            waitlist_places.update().where(waitlist_places.c.id.in_(list(place_ids))).values(told_at=now)
        )


async def item_titles(conn: AsyncConnection, item_ids: Iterable[int]) -> dict[int, tuple[str, str]]:
    """(title, title_zh) of each sale item's product."""
    query = (
        sa.select(sale_items.c.id, products.c.title, products.c.title_zh)
        .join(skus, skus.c.id == sale_items.c.sku_id)
        .join(products, products.c.id == skus.c.product_id)
        .where(sale_items.c.id.in_(set(item_ids)))
    )
    return {int(r.id): (r.title, r.title_zh or r.title) for r in await conn.execute(query)}
