"""Parcel tracking and after-sales (issue 18, points 2 and 3): each shipment's milestones.

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


def downgrade() -> None:
    op.drop_table("shipment_milestones")
