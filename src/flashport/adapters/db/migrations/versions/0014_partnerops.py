"""Partner operations: webhook signing secrets sealed at rest (Fernet, the partner secrets key) instead
of kept in clear, in wider columns; and the marks the JetStream consumer uses to queue each partner
event once per endpoint, however often the stream hands it out.

Revision ID: 0014_partnerops
Revises: 0013_zhcn
Create Date: 2026-12-03 07:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context, op

revision = "0014_partnerops"
down_revision = "0013_zhcn"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
When = sa.DateTime(timezone=True)
CLEAR_PREFIX = "whsec_"


def _box() -> object:
    """The sealing box of the settings the migration runs under (``migrate.py`` hands them in)."""
    from flashport.adapters.secret_box import SecretBox
    from flashport.settings import load_settings

    settings = context.config.attributes.get("settings") or load_settings()
    return SecretBox(settings)


def upgrade() -> None:
    with op.batch_alter_table("webhook_endpoints") as batch:
        batch.alter_column("secret", type_=sa.String(300), existing_nullable=False)
        batch.alter_column("previous_secret", type_=sa.String(300), existing_nullable=True)
    endpoints = sa.table(
        "webhook_endpoints",
        sa.column("id", BigId),
        sa.column("secret", sa.String),
        sa.column("previous_secret", sa.String),
    )
    conn = op.get_bind()
    rows = conn.execute(sa.select(endpoints)).all()
    if rows:
        box = _box()
        for row in rows:
            values = {
                name: box.seal(value)  # type: ignore[attr-defined]
                for name, value in (("secret", row.secret), ("previous_secret", row.previous_secret))
                if value and value.startswith(CLEAR_PREFIX)
            }
            if values:
                conn.execute(endpoints.update().where(endpoints.c.id == row.id).values(**values))
    op.create_table(
        "webhook_queued_events",
        sa.Column("endpoint_id", BigId, nullable=False),
        sa.Column("partner_event_id", sa.BigInteger, nullable=False),
        sa.Column("created_at", When, nullable=False),
        sa.PrimaryKeyConstraint("endpoint_id", "partner_event_id", name="pk_webhook_queued_events"),
    )


def downgrade() -> None:
    op.drop_table("webhook_queued_events")
    endpoints = sa.table(
        "webhook_endpoints",
        sa.column("id", BigId),
        sa.column("secret", sa.String),
        sa.column("previous_secret", sa.String),
    )
    conn = op.get_bind()
    rows = conn.execute(sa.select(endpoints)).all()
    if rows:
        box = _box()
        for row in rows:
            values = {
                name: box.open(value)  # type: ignore[attr-defined]
                for name, value in (("secret", row.secret), ("previous_secret", row.previous_secret))
                if value and not value.startswith(CLEAR_PREFIX)
            }
            if values:
                conn.execute(endpoints.update().where(endpoints.c.id == row.id).values(**values))
    with op.batch_alter_table("webhook_endpoints") as batch:
        batch.alter_column("secret", type_=sa.String(100), existing_nullable=False)
        batch.alter_column("previous_secret", type_=sa.String(100), existing_nullable=True)
