"""The basket: the room each buyer's basket takes, and the units it holds (services/orders/basket.py).

Revision ID: 0021_basket
Revises: 0020_notify
Create Date: 2026-12-03 10:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
When = sa.DateTime(timezone=True)

revision = "0021_basket"
down_revision = "0020_notify"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "baskets",
        sa.Column("buyer_id", BigId, nullable=False),
        sa.Column("warehouse_id", BigId, nullable=False),
        sa.Column("opened_at", When, nullable=False),
        sa.Column("hold_until", When, nullable=False),
        sa.Column("units", sa.Integer(), nullable=False),
        sa.Column("goods_fen", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("units >= 0", name=op.f("ck_baskets_units_non_negative")),
        sa.PrimaryKeyConstraint("buyer_id", name=op.f("pk_baskets")),
    )
    op.create_table(
        "basket_units",
        sa.Column("order_id", sa.String(36), nullable=False),
        sa.Column("buyer_id", BigId, nullable=False),
        sa.Column("sale_item_id", BigId, nullable=False),
        sa.Column("unit_price_fen", sa.BigInteger(), nullable=False),
        sa.Column("added_at", When, nullable=False),
        sa.Column("hold_until", When, nullable=False),
        sa.Column("removed_at", When),
        sa.PrimaryKeyConstraint("order_id", name=op.f("pk_basket_units")),
    )
    op.create_index("ix_basket_units_buyer_hold", "basket_units", ["buyer_id", "hold_until"])


def downgrade() -> None:
    op.drop_index("ix_basket_units_buyer_hold", table_name="basket_units")
    op.drop_table("basket_units")
    op.drop_table("baskets")
