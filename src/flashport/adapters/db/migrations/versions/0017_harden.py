"""Sessions that can end: a session version on each user, and the log of its raises that every API
process follows (services/accounts/sessions.py).

Revision ID: 0017_harden
Revises: 0016_taxlimits
Create Date: 2026-12-03 07:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
When = sa.DateTime(timezone=True)

revision = "0017_harden"
down_revision = "0016_taxlimits"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("session_version", sa.Integer(), server_default="0", nullable=False))
    op.create_table(
        "session_revocations",
        sa.Column("id", BigId, autoincrement=True),
        sa.Column("user_id", BigId, nullable=False),
        sa.Column("min_version", sa.Integer(), nullable=False),
        sa.Column("created_at", When, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_session_revocations")),
    )
    op.create_index("ix_session_revocations_created_at", "session_revocations", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_session_revocations_created_at", table_name="session_revocations")
    op.drop_table("session_revocations")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("session_version")
