"""The waiting room in front of hot sale items: the rooms and the buyers' places (issue 19, point 1).

Revision ID: 0022_waitroom
Revises: 0021_basket
Create Date: 2026-12-03 10:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
When = sa.DateTime(timezone=True)

revision = "0022_waitroom"
down_revision = "0021_basket"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "waiting_rooms",
        sa.Column("item_id", BigId, autoincrement=False),
        sa.Column("enabled", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("opens_before_seconds", sa.Integer(), nullable=False),
        sa.Column("admit_per_second", sa.Float()),
        sa.Column("token_seconds", sa.Integer(), nullable=False),
        sa.Column("places", sa.Integer(), server_default="0", nullable=False),
        sa.Column("admitted", sa.Float(), server_default="0", nullable=False),
        sa.Column("rate", sa.Float(), server_default="0", nullable=False),
        sa.Column("advanced_at", When),
        sa.Column("shuffled_at", When),
        sa.Column("sold_mark", sa.Integer()),
        sa.Column("sold_mark_at", When),
        sa.Column("challenged", sa.Integer(), server_default="0", nullable=False),
        sa.Column("passed", sa.Integer(), server_default="0", nullable=False),
        sa.Column("created_at", When, nullable=False),
        sa.Column("updated_at", When, nullable=False),
        sa.PrimaryKeyConstraint("item_id", name=op.f("pk_waiting_rooms")),
    )
    op.create_table(
        "waiting_room_places",
        sa.Column("id", BigId, autoincrement=True),
        sa.Column("item_id", BigId, nullable=False),
        sa.Column("buyer_id", BigId, nullable=False),
        sa.Column("address", sa.String(64)),
        sa.Column("place", sa.Integer()),
        sa.Column("joined_at", When, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_waiting_room_places")),
        sa.UniqueConstraint("item_id", "buyer_id", name="uq_waiting_room_places_item_id"),
    )
    op.create_index(
        "ix_waiting_room_places_address", "waiting_room_places", ["item_id", "address", "joined_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_waiting_room_places_address", table_name="waiting_room_places")
    op.drop_table("waiting_room_places")
    op.drop_table("waiting_rooms")
