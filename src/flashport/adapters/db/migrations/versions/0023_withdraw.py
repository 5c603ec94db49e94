"""Cancellations that withdraw an accepted inventory list (issue 18, point 3): the buyer's request,
the CEB623 sent and customs' answer (CEB624), before the refund follows.

Revision ID: 0023_withdraw
Revises: 0022_waitroom
Create Date: 2026-12-03 14:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
When = sa.DateTime(timezone=True)

revision = "0023_withdraw"
down_revision = "0022_waitroom"
branch_labels = None
depends_on = None

CANCELLATION_STATES = "'requested', 'declared', 'withdrawn', 'refused'"


def upgrade() -> None:
    op.create_table(
        "cancellations",
        sa.Column("id", BigId, autoincrement=True),
        sa.Column("order_id", sa.String(36), nullable=False),
        sa.Column("order_no", sa.String(32), nullable=False),
        sa.Column("buyer_id", BigId, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("cop_no", sa.String(20), nullable=False),
        sa.Column("invt_no", sa.String(18)),
        sa.Column("message_guid", sa.String(36)),
        sa.Column("customs_status", sa.Integer()),
        sa.Column("customs_info", sa.Text()),
        sa.Column("refund_id", BigId),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_attempt_at", When, nullable=False),
        sa.Column("last_error", sa.Text()),
        sa.Column("requested_at", When, nullable=False),
        sa.Column("declared_at", When),
        sa.Column("answered_at", When),
        sa.Column("updated_at", When, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cancellations")),
        sa.UniqueConstraint("order_id", name="uq_cancellations_order_id"),
        sa.UniqueConstraint("cop_no", name="uq_cancellations_cop_no"),
        sa.CheckConstraint(f"state IN ({CANCELLATION_STATES})", name=op.f("ck_cancellations_state")),
    )
    op.create_index("ix_cancellations_state_next", "cancellations", ["state", "next_attempt_at"])


def downgrade() -> None:
    op.drop_index("ix_cancellations_state_next", table_name="cancellations")
    op.drop_table("cancellations")
