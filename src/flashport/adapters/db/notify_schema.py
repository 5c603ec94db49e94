"""Tables of the buyer notifications (issue 18): each buyer's preferences, the messages the notifier
queued (one row per message and channel, its idempotency record), "remind me" requests for upcoming
sales, and waitlists of sold-out items. The notifier's cursor over the outbox is a row of
``relay_cursors`` (name ``notifier``). Same metadata as :mod:`flashport.adapters.db.schema`."""

from __future__ import annotations

import sqlalchemy as sa

from flashport.adapters.db.schema import BigId, JSONType, UTCDateTime, metadata

notification_preferences = sa.Table(
    "notification_preferences",
    metadata,
    sa.Column("user_id", BigId, sa.ForeignKey("users.id"), primary_key=True),
    sa.Column("language", sa.String(8), nullable=False),  # zh-CN or en
    sa.Column("mobile", sa.String(20)),  # for SMS; none: e-mail only
    sa.Column("muted", JSONType, nullable=False),  # kinds turned off, e.g. ["shipped"]
    sa.Column("updated_at", UTCDateTime(), nullable=False),
)

# One row per message and channel. ``key`` is the idempotency record: the same record, reminder or
# deadline never queues a second message, however often a pass is repeated after a crash.
notifications = sa.Table(
    "notifications",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("key", sa.String(200), nullable=False),  # e.g. paid:order:FP..:email
    sa.Column("user_id", BigId, nullable=False),
    sa.Column("kind", sa.String(24), nullable=False),
    sa.Column("channel", sa.String(8), nullable=False),
    sa.Column("subject", sa.String(128), nullable=False),  # what it is about, e.g. order:FP...
    sa.Column("data", JSONType, nullable=False),  # the values the message shows
    sa.Column("status", sa.String(12), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt_at", UTCDateTime(), nullable=False),
    sa.Column("last_error", sa.String(500)),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("sent_at", UTCDateTime()),
    sa.UniqueConstraint("key", name="uq_notifications_key"),
    sa.CheckConstraint("status IN ('pending', 'sent', 'failed', 'muted', 'skipped')", name="status"),
    sa.Index("ix_notifications_status_next_attempt_at", "status", "next_attempt_at"),
    sa.Index("ix_notifications_user_id_id", "user_id", "id"),
)

sale_reminders = sa.Table(
    "sale_reminders",
    metadata,
    sa.Column("event_id", BigId, sa.ForeignKey("sale_events.id"), primary_key=True),
    sa.Column("user_id", BigId, sa.ForeignKey("users.id"), primary_key=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("sent_at", UTCDateTime()),  # set when the opening's message was queued
    sa.Index("ix_sale_reminders_sent_at", "sent_at"),
)

# One place per buyer and item; ``id`` order is the order of joining. Leaving deletes the place (joining
# again goes to the back). ``told_at``: units came back and this buyer was told.
waitlist_places = sa.Table(
    "waitlist_places",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("sale_item_id", BigId, sa.ForeignKey("sale_items.id"), nullable=False),
    sa.Column("user_id", BigId, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("joined_at", UTCDateTime(), nullable=False),
    sa.Column("told_at", UTCDateTime()),
    sa.UniqueConstraint("sale_item_id", "user_id", name="uq_waitlist_places_sale_item_id"),
)
