"""The live sale board's tallies: units and orders paid and closed unpaid per sale item, in slots, filled
from the orders already there.

Revision ID: 0011_board
Revises: 0010_stages
Create Date: 2026-12-03 07:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_board"
down_revision = "0010_stages"
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


def downgrade() -> None:
    op.drop_table("sale_item_tallies")
