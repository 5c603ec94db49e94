"""Outbox rows remember their transaction, so cursors follow commit order on PostgreSQL.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 12:15:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    default = sa.text("(pg_current_xact_id()::text::bigint)") if postgres else None
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("tx_seq", sa.BigInteger(), server_default=default, nullable=True))
        batch.create_index("ix_outbox_tx_seq_id", ["tx_seq", "id"])


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.drop_index("ix_outbox_tx_seq_id")
        batch.drop_column("tx_seq")
