"""The tax bill family: customs' electronic tax bills (CEB816) and their status (CEB818), kept per
bill and linked by the inventory number to the declaration, which now keeps that number (given by
customs on release) so a bill finds its order.

Revision ID: 0011_strictsim
Revises: 0010_stages
Create Date: 2026-12-03 07:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_strictsim"
down_revision = "0010_stages"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("declarations") as batch:
        batch.add_column(sa.Column("invt_no", sa.String(18), nullable=True))
        batch.create_index("ix_declarations_invt_no", ["invt_no"])
    op.create_table(
        "customs_tax_bills",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("tax_no", sa.String(50), nullable=False),
        sa.Column("invt_no", sa.String(18), nullable=False),
        sa.Column("declaration_id", BigId, nullable=True),
        sa.Column("status", sa.String(1), nullable=False),
        sa.Column("customs_tax_fen", sa.BigInteger, nullable=False),
        sa.Column("vat_fen", sa.BigInteger, nullable=False),
        sa.Column("consumption_tax_fen", sa.BigInteger, nullable=False),
        sa.Column("billed_fen", sa.BigInteger, nullable=False),
        sa.Column("period", sa.String(7), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_customs_tax_bills"),
        sa.UniqueConstraint("tax_no", name="uq_customs_tax_bills_tax_no"),
        sa.ForeignKeyConstraint(
            ["declaration_id"],
            ["declarations.id"],
            name="fk_customs_tax_bills_declaration_id_declarations",
        ),
    )
    op.create_index("ix_customs_tax_bills_invt_no", "customs_tax_bills", ["invt_no"])
    op.create_index("ix_customs_tax_bills_declaration_id", "customs_tax_bills", ["declaration_id"])
    op.create_index("ix_customs_tax_bills_period", "customs_tax_bills", ["period"])


def downgrade() -> None:
    op.drop_table("customs_tax_bills")
    with op.batch_alter_table("declarations") as batch:
        batch.drop_index("ix_declarations_invt_no")
        batch.drop_column("invt_no")
