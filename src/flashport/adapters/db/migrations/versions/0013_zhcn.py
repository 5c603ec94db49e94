"""The storefront in Chinese, and saved delivery addresses.

Brands carry a Chinese display name and description (``name_zh``, ``description_zh``), products a
Chinese display title and description (``title_zh``, ``description_zh``): what Chinese readers of the
storefront see, empty when not written yet (the storefront then shows the original). These are display
texts, not the names declared to customs.

``buyer_addresses`` keeps each buyer's consignee addresses: who receives the parcel, a mobile number,
the district's administrative division code (chosen from the lists, never typed) and the street.

Revision ID: 0013_zhcn
Revises: 0012_board
Create Date: 2026-12-03 07:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013_zhcn"
down_revision = "0012_board"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("brands") as batch:
        batch.add_column(sa.Column("name_zh", sa.String(200), server_default="", nullable=False))
        batch.add_column(sa.Column("description_zh", sa.Text(), server_default="", nullable=False))
    with op.batch_alter_table("products") as batch:
        batch.add_column(sa.Column("title_zh", sa.String(300), server_default="", nullable=False))
        batch.add_column(sa.Column("description_zh", sa.Text(), server_default="", nullable=False))
    op.create_table(
        "buyer_addresses",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("buyer_id", BIG_ID, nullable=False),
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("district_code", sa.String(length=6), nullable=False),
        sa.Column("street", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["buyer_id"], ["users.id"], name=op.f("fk_buyer_addresses_buyer_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_buyer_addresses")),
    )
    op.create_index("ix_buyer_addresses_buyer_id", "buyer_addresses", ["buyer_id"])


def downgrade() -> None:
    op.drop_index("ix_buyer_addresses_buyer_id", table_name="buyer_addresses")
    op.drop_table("buyer_addresses")
    with op.batch_alter_table("products") as batch:
        batch.drop_column("description_zh")
        batch.drop_column("title_zh")
    with op.batch_alter_table("brands") as batch:
        batch.drop_column("description_zh")
        batch.drop_column("name_zh")
