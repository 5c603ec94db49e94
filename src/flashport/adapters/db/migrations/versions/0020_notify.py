"""Buyer notifications: preferences, the notifier's queued messages (its idempotency records), sale
reminders and waitlists; the notifier's cursor starts at the end of the outbox as it stands, so a
deployment that upgrades is not sent its whole history.

Revision ID: 0020_notify
Revises: 0019_console
Create Date: 2026-12-03 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
When = sa.DateTime(timezone=True)
Json = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

revision = "0020_notify"
down_revision = "0019_console"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "notification_preferences",
        sa.Column("user_id", BigId, nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("mobile", sa.String(20)),
        sa.Column("muted", Json, nullable=False),
        sa.Column("updated_at", When, nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_notification_preferences_user_id_users")
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_notification_preferences")),
    )
    op.create_table(
        "notifications",
        sa.Column("id", BigId, autoincrement=True),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("user_id", BigId, nullable=False),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("channel", sa.String(8), nullable=False),
        sa.Column("subject", sa.String(128), nullable=False),
        sa.Column("data", Json, nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_attempt_at", When, nullable=False),
        sa.Column("last_error", sa.String(500)),
        sa.Column("created_at", When, nullable=False),
        sa.Column("sent_at", When),
        sa.CheckConstraint(
            "status IN ('pending', 'sent', 'failed', 'muted', 'skipped')",
            name=op.f("ck_notifications_status"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
        sa.UniqueConstraint("key", name="uq_notifications_key"),
    )
    op.create_index("ix_notifications_status_next_attempt_at", "notifications", ["status", "next_attempt_at"])
    op.create_index("ix_notifications_user_id_id", "notifications", ["user_id", "id"])
    op.create_table(
        "sale_reminders",
        sa.Column("event_id", BigId, nullable=False),
        sa.Column("user_id", BigId, nullable=False),
        sa.Column("created_at", When, nullable=False),
        sa.Column("sent_at", When),
        sa.ForeignKeyConstraint(
            ["event_id"], ["sale_events.id"], name=op.f("fk_sale_reminders_event_id_sale_events")
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_sale_reminders_user_id_users")),
        sa.PrimaryKeyConstraint("event_id", "user_id", name=op.f("pk_sale_reminders")),
    )
    op.create_index("ix_sale_reminders_sent_at", "sale_reminders", ["sent_at"])
    op.create_table(
        "waitlist_places",
        sa.Column("id", BigId, autoincrement=True),
        sa.Column("sale_item_id", BigId, nullable=False),
        sa.Column("user_id", BigId, nullable=False),
        sa.Column("joined_at", When, nullable=False),
        sa.Column("told_at", When),
        sa.ForeignKeyConstraint(
            ["sale_item_id"], ["sale_items.id"], name=op.f("fk_waitlist_places_sale_item_id_sale_items")
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_waitlist_places_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_waitlist_places")),
        sa.UniqueConstraint("sale_item_id", "user_id", name="uq_waitlist_places_sale_item_id"),
    )
    op.execute(
        "INSERT INTO relay_cursors (name, tx_seq, last_id, updated_at) "
        "SELECT 'notifier', COALESCE(MAX(tx_seq), 0), COALESCE(MAX(id), 0), CURRENT_TIMESTAMP FROM outbox"
    )


def downgrade() -> None:
    op.execute("DELETE FROM relay_cursors WHERE name = 'notifier'")
    op.drop_table("waitlist_places")
    op.drop_index("ix_sale_reminders_sent_at", table_name="sale_reminders")
    op.drop_table("sale_reminders")
    op.drop_index("ix_notifications_user_id_id", table_name="notifications")
    op.drop_index("ix_notifications_status_next_attempt_at", table_name="notifications")
    op.drop_table("notifications")
    op.drop_table("notification_preferences")
