"""Worker look-ups that stay cheap: when a pending payment was last checked with the provider, and a
partial index of closed orders whose units are not released yet.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 13:35:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

UNRELEASED = "stock_released_at IS NULL AND status IN ('expired', 'cancelled')"


def upgrade() -> None:
    with op.batch_alter_table("payments") as batch:
        batch.add_column(sa.Column("checked_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index(
        "ix_orders_release_pending",
        "orders",
        ["status"],
        postgresql_where=sa.text(UNRELEASED),
        sqlite_where=sa.text(UNRELEASED),
    )


def downgrade() -> None:
    op.drop_index("ix_orders_release_pending", table_name="orders")
    with op.batch_alter_table("payments") as batch:
        batch.drop_column("checked_at")
