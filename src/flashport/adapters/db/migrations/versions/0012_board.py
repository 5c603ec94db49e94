"""The operator console: the live sale board's tallies (units and orders paid and closed unpaid per
sale item, in slots, filled from the orders already there), pauses of running sales, and the audit log of
operator actions.

Revision ID: 0012_board
Revises: 0011_strictsim
Create Date: 2026-12-03 07:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0012_board"
down_revision = "0011_strictsim"
branch_labels = None
depends_on = None


def upgrade() -> None:
    big_id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    op.create_table(
        "sale_item_tallies",
        sa.Column("sale_item_id", big_id, nullable=False),
        sa.Column("slot", sa.SmallInteger(), nullable=False),
        sa.Column("paid_orders", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("paid_units", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("closed_orders", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("closed_units", sa.BigInteger(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("sale_item_id", "slot", name=op.f("pk_sale_item_tallies")),
    )
    op.execute(
        """
        INSERT INTO sale_item_tallies
            (sale_item_id, slot, paid_orders, paid_units, closed_orders, closed_units)
        SELECT sale_item_id, 0,
               SUM(CASE WHEN status = 'paid' THEN 1 ELSE 0 END),
               SUM(CASE WHEN status = 'paid' THEN quantity ELSE 0 END),
               SUM(CASE WHEN status IN ('expired', 'cancelled') THEN 1 ELSE 0 END),
               SUM(CASE WHEN status IN ('expired', 'cancelled') THEN quantity ELSE 0 END)
        FROM orders
        WHERE status <> 'pending_payment'
        GROUP BY sale_item_id
        """
    )

    op.create_table(
        "sale_pauses",
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("ref", big_id, nullable=False),
        sa.Column("paused_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("paused_by", big_id, nullable=False),
        sa.CheckConstraint("kind IN ('event', 'item')", name=op.f("ck_sale_pauses_kind")),
        sa.PrimaryKeyConstraint("kind", "ref", name=op.f("pk_sale_pauses")),
    )
    json = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
    op.create_table(
        "operator_audit",
        sa.Column("id", big_id, autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("operator_id", big_id, nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("subject", sa.String(128), nullable=False),
        sa.Column("details", json, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_operator_audit")),
    )
    op.create_index("ix_operator_audit_subject_id", "operator_audit", ["subject", "id"])
    op.create_index("ix_operator_audit_action_id", "operator_audit", ["action", "id"])
    op.create_index("ix_operator_audit_operator_id_id", "operator_audit", ["operator_id", "id"])


def downgrade() -> None:
    op.drop_table("operator_audit")
    op.drop_table("sale_pauses")
    op.drop_table("sale_item_tallies")
