"""Buyer identities (ID numbers encrypted, found by keyed hash), the per-identity yearly paid totals of
the annual limit, and what checkout writes on orders and their lines (consignee, buyer identity, taxes).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 09:00:00
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

ORDER_COLUMNS: tuple[tuple[str, sa.types.TypeEngine[Any]], ...] = (
    ("consignee_name", sa.String(length=100)),
    ("consignee_phone", sa.String(length=20)),
    ("consignee_address", sa.String(length=200)),
    ("consignee_district", sa.String(length=6)),
    ("buyer_name", sa.String(length=60)),
    ("buyer_id_cipher", sa.Text()),
    ("buyer_id_masked", sa.String(length=32)),
    ("buyer_id_hash", sa.String(length=64)),
    ("tax_regime", sa.String(length=16)),
    ("checked_out_at", sa.DateTime(timezone=True)),
)

LINE_COLUMNS: tuple[tuple[str, sa.types.TypeEngine[Any]], ...] = (
    ("tax_category", sa.String(length=32)),
    ("tax_base_fen", sa.BigInteger()),
    ("tariff_fen", sa.BigInteger()),
    ("consumption_tax_fen", sa.BigInteger()),
    ("vat_fen", sa.BigInteger()),
)


def upgrade() -> None:
    op.create_table(
        "identities",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("buyer_id", BIG_ID, nullable=False),
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("id_cipher", sa.Text(), nullable=False),
        sa.Column("id_masked", sa.String(length=32), nullable=False),
        sa.Column("id_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["buyer_id"], ["users.id"], name=op.f("fk_identities_buyer_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identities")),
        sa.UniqueConstraint("buyer_id", "id_hash", name="uq_identities_buyer_hash"),
    )
    op.create_table(
        "identity_year_totals",
        sa.Column("id_hash", sa.String(length=64), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("paid_fen", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("paid_fen >= 0", name=op.f("ck_identity_year_totals_paid_non_negative")),
        sa.PrimaryKeyConstraint("id_hash", "year", name=op.f("pk_identity_year_totals")),
    )
    with op.batch_alter_table("orders") as batch:
        for name, type_ in ORDER_COLUMNS:
            batch.add_column(sa.Column(name, type_, nullable=True))
    with op.batch_alter_table("order_lines") as batch:
        for name, type_ in LINE_COLUMNS:
            batch.add_column(sa.Column(name, type_, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("order_lines") as batch:
        for name, _type in reversed(LINE_COLUMNS):
            batch.drop_column(name)
    with op.batch_alter_table("orders") as batch:
        for name, _type in reversed(ORDER_COLUMNS):
            batch.drop_column(name)
    op.drop_table("identity_year_totals")
    op.drop_table("identities")
