"""Parcel tracking and after-sales (issue 18, points 2 and 3): each shipment's milestones, and buyers'
returns from request to refund.

Revision ID: 0018_track
Revises: 0017_harden
Create Date: 2026-12-03 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
When = sa.DateTime(timezone=True)

revision = "0018_track"
down_revision = "0017_harden"
branch_labels = None
depends_on = None

MILESTONES = "'declared', 'released', 'picked', 'handed_over', 'in_transit', 'delivered'"
AFTERSALE_STATES = "'requested', 'approved', 'declared', 'refunded', 'refused'"


def upgrade() -> None:
    op.create_table(
        "shipment_milestones",
        sa.Column("id", BigId, autoincrement=True),
        sa.Column("order_id", sa.String(36), nullable=False),
        sa.Column("order_no", sa.String(32), nullable=False),
        sa.Column("milestone", sa.String(16), nullable=False),
        sa.Column("at", When, nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("created_at", When, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shipment_milestones")),
        sa.UniqueConstraint("order_id", "milestone", name="uq_shipment_milestones_order_id"),
        sa.CheckConstraint(f"milestone IN ({MILESTONES})", name=op.f("ck_shipment_milestones_milestone")),
    )

    op.create_table(
        "aftersales",
        sa.Column("id", BigId, autoincrement=True),
        sa.Column("order_id", sa.String(36), nullable=False),
        sa.Column("order_no", sa.String(32), nullable=False),
        sa.Column("buyer_id", BigId, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("cop_no", sa.String(20), nullable=False),
        sa.Column("message_guid", sa.String(36)),
        sa.Column("customs_status", sa.Integer()),
        sa.Column("customs_info", sa.Text()),
        sa.Column("refund_id", BigId),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_attempt_at", When, nullable=False),
        sa.Column("last_error", sa.Text()),
        sa.Column("approved_by", BigId),
        sa.Column("requested_at", When, nullable=False),
        sa.Column("approved_at", When),
        sa.Column("declared_at", When),
        sa.Column("answered_at", When),
        sa.Column("updated_at", When, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_aftersales")),
        sa.UniqueConstraint("order_id", name="uq_aftersales_order_id"),
        sa.UniqueConstraint("cop_no", name="uq_aftersales_cop_no"),
        sa.CheckConstraint(f"state IN ({AFTERSALE_STATES})", name=op.f("ck_aftersales_state")),
    )
    op.create_index("ix_aftersales_buyer_id", "aftersales", ["buyer_id"])
    op.create_index("ix_aftersales_state_next", "aftersales", ["state", "next_attempt_at"])


def downgrade() -> None:
    op.drop_index("ix_aftersales_state_next", table_name="aftersales")
    op.drop_index("ix_aftersales_buyer_id", table_name="aftersales")
    op.drop_table("aftersales")
    op.drop_table("shipment_milestones")
