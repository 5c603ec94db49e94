"""Partners (suppliers, carriers, the payment company, customs brokers) with hashed API keys, the
per-partner event log the relay fills from the outbox, and webhook endpoints with their deliveries.

Revision ID: 0008_partners
Revises: 0007
Create Date: 2026-12-02 18:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_partners"
down_revision = "0007"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
When = sa.DateTime(timezone=True)
Json = sa.JSON().with_variant(sa.dialects.postgresql.JSONB(), "postgresql")


def _id() -> sa.Column[int]:
    return sa.Column("id", BigId, primary_key=True, autoincrement=True)


def upgrade() -> None:
    op.create_table(
        "partners",
        _id(),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column(
            "supplier_id", BigId, sa.ForeignKey("suppliers.id", name="fk_partners_supplier_id_suppliers")
        ),
        sa.Column("logistics_code", sa.String(18)),
        sa.Column("pay_code", sa.String(32)),
        sa.Column("is_active", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("created_at", When, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_partners"),
        sa.UniqueConstraint("name", name="uq_partners_name"),
    )
    op.create_table(
        "partner_keys",
        _id(),
        sa.Column(
            "partner_id",
            BigId,
            sa.ForeignKey("partners.id", name="fk_partner_keys_partner_id_partners"),
            nullable=False,
        ),
        sa.Column("key_id", sa.String(24), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("label", sa.String(100), nullable=False, server_default=""),
        sa.Column("created_at", When, nullable=False),
        sa.Column("expires_at", When),
        sa.Column("revoked_at", When),
        sa.Column("last_used_at", When),
        sa.PrimaryKeyConstraint("id", name="pk_partner_keys"),
        sa.UniqueConstraint("key_id", name="uq_partner_keys_key_id"),
    )
    op.create_index("ix_partner_keys_partner_id", "partner_keys", ["partner_id"])
    op.create_table(
        "partner_events",
        _id(),
        sa.Column(
            "partner_id",
            BigId,
            sa.ForeignKey("partners.id", name="fk_partner_events_partner_id_partners"),
            nullable=False,
        ),
        sa.Column("outbox_id", sa.BigInteger, nullable=False),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("subject", sa.String(128), nullable=False),
        sa.Column("subject_seq", sa.Integer, nullable=False),
        sa.Column("occurred_at", When, nullable=False),
        sa.Column("data", Json, nullable=False),
        sa.Column("link", sa.String(300)),
        sa.Column("created_at", When, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_partner_events"),
        sa.UniqueConstraint("partner_id", "outbox_id", name="uq_partner_events_partner_id"),
    )
    op.create_index("ix_partner_events_partner_id_id", "partner_events", ["partner_id", "id"])
    op.create_index("ix_partner_events_partner_id_subject", "partner_events", ["partner_id", "subject"])
    op.create_table(
        "relay_cursors",
        sa.Column("name", sa.String(40), nullable=False),
        sa.Column("tx_seq", sa.BigInteger, nullable=False),
        sa.Column("last_id", sa.BigInteger, nullable=False),
        sa.Column("updated_at", When, nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_relay_cursors"),
    )
    op.create_table(
        "webhook_endpoints",
        _id(),
        sa.Column(
            "partner_id",
            BigId,
            sa.ForeignKey("partners.id", name="fk_webhook_endpoints_partner_id_partners"),
            nullable=False,
        ),
        sa.Column("url", sa.String(500), nullable=False),
        sa.Column("event_types", Json, nullable=False),
        sa.Column("secret", sa.String(100), nullable=False),
        sa.Column("previous_secret", sa.String(100)),
        sa.Column("previous_until", When),
        sa.Column("last_partner_event_id", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("failing_since", When),
        sa.Column("disabled_at", When),
        sa.Column("disabled_reason", sa.String(200)),
        sa.Column("created_at", When, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_webhook_endpoints"),
    )
    op.create_index("ix_webhook_endpoints_partner_id", "webhook_endpoints", ["partner_id"])
    op.create_table(
        "webhook_deliveries",
        _id(),
        sa.Column(
            "endpoint_id",
            BigId,
            sa.ForeignKey("webhook_endpoints.id", name="fk_webhook_deliveries_endpoint_id_webhook_endpoints"),
            nullable=False,
        ),
        sa.Column("message_id", sa.String(40), nullable=False),
        sa.Column("first_event_id", sa.BigInteger, nullable=False),
        sa.Column("last_event_id", sa.BigInteger, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", When, nullable=False),
        sa.Column("last_status_code", sa.Integer),
        sa.Column("last_error", sa.Text),
        sa.Column("delivered_at", When),
        sa.Column("created_at", When, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_webhook_deliveries"),
        sa.UniqueConstraint("message_id", name="uq_webhook_deliveries_message_id"),
    )
    op.create_index(
        "ix_webhook_deliveries_status_next_attempt_at", "webhook_deliveries", ["status", "next_attempt_at"]
    )
    op.create_index("ix_webhook_deliveries_endpoint_id_id", "webhook_deliveries", ["endpoint_id", "id"])


def downgrade() -> None:
    op.drop_table("webhook_deliveries")
    op.drop_table("webhook_endpoints")
    op.drop_table("relay_cursors")
    op.drop_table("partner_events")
    op.drop_table("partner_keys")
    op.drop_table("partners")
