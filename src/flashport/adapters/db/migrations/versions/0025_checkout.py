"""Basket checkout: one order with several lines (docs/basket.md, "Checking out").

``orders.line_count`` says how many lines an order has (1 for every order the buy path makes, by the
server default, so the hot path writes nothing more); ``orders.merged_into`` points a basket's holding
order at the order it was folded into, and ``merged`` is that holding order's status. A checkout's
Idempotency-Key is kept in ``basket_checkouts``, apart from the buy path's keys.

Revision ID: 0025_checkout
Revises: 0024_preheat
Create Date: 2026-12-03 14:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
When = sa.DateTime(timezone=True)

revision = "0025_checkout"
down_revision = "0024_preheat"
branch_labels = None
depends_on = None

_BEFORE = "status IN ('pending_payment', 'paid', 'expired', 'cancelled')"
_AFTER = "status IN ('pending_payment', 'paid', 'expired', 'cancelled', 'merged')"


def upgrade() -> None:
    # On SQLite this copies the table (batch mode); the named CHECK constraint is carried by name.
    with op.batch_alter_table("orders") as batch:
        batch.add_column(sa.Column("line_count", sa.Integer(), server_default="1", nullable=False))
        batch.add_column(sa.Column("merged_into", sa.String(36)))
        batch.drop_constraint(op.f("ck_orders_status"), type_="check")
        batch.create_check_constraint(op.f("ck_orders_status"), _AFTER)
    op.create_table(
        "basket_checkouts",
        sa.Column("buyer_id", BigId, nullable=False),
        sa.Column("idempotency_key", sa.String(128), nullable=False),
        sa.Column("order_id", sa.String(36), nullable=False),
        sa.Column("created_at", When, nullable=False),
        sa.PrimaryKeyConstraint("buyer_id", "idempotency_key", name=op.f("pk_basket_checkouts")),
    )


def downgrade() -> None:
    op.drop_table("basket_checkouts")
    with op.batch_alter_table("orders") as batch:
        batch.drop_constraint(op.f("ck_orders_status"), type_="check")
        batch.create_check_constraint(op.f("ck_orders_status"), _BEFORE)
        batch.drop_column("merged_into")
        batch.drop_column("line_count")
