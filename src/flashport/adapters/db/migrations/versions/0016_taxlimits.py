"""Tax classification that operators maintain (rates per HS prefix or tax category, with the tariff
general trade needs and consumption-tax thresholds). The high-end cosmetics threshold (¥10 per ml or
gram, ¥15 per piece) is measured against each SKU's net content, which 0015_declnames added.

Revision ID: 0016_taxlimits
Revises: 0015_declnames
Create Date: 2026-12-03 07:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016_taxlimits"
down_revision = "0015_declnames"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "tax_rules",
        sa.Column("id", BigId, autoincrement=True),
        sa.Column("hs_prefix", sa.String(10), nullable=True),
        sa.Column("tax_category", sa.String(32), nullable=True),
        sa.Column("label", sa.String(100), nullable=False),
        sa.Column("vat_rate_bp", sa.Integer(), nullable=False),
        sa.Column("consumption_tax_rate_bp", sa.Integer(), nullable=False),
        sa.Column("tariff_rate_bp", sa.Integer(), nullable=True),
        sa.Column("threshold_per_ml_or_gram_fen", sa.BigInteger(), nullable=True),
        sa.Column("threshold_per_piece_fen", sa.BigInteger(), nullable=True),
        sa.Column("updated_by", BigId, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_tax_rules"),
        sa.CheckConstraint(
            "(hs_prefix IS NULL) <> (tax_category IS NULL)", name=op.f("ck_tax_rules_one_key")
        ),
        sa.UniqueConstraint("hs_prefix", name="uq_tax_rules_hs_prefix"),
        sa.UniqueConstraint("tax_category", name="uq_tax_rules_tax_category"),
    )


def downgrade() -> None:
    op.drop_table("tax_rules")
