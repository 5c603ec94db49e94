"""Goods and identities as customs reads them (issue 20, points 4 and 5).

Products get their Chinese declared name and the HS code's second legal unit; SKUs their declaration
elements (gmodel), net content, net weight, packaging weight and bonded record number; bonded
warehouses the area operator's registered code; identities and orders the buyer's own phone; and the
positive list's editions get tables of their own.

Existing rows are filled so that nothing already declarable stops: the declared name from the title,
gmodel from the SKU's spec (or title), the net weight from the shipping weight with no packaging,
and an order's buyer phone from the consignee's (what it declared until now). The catalog refuses
such a row on its next edit until it is completed (a Chinese name, brand|spec|composition, the
packaging). Bonded warehouses without an area code and 1210 SKUs without a record number are not
declared until an operator adds them: the declaration waits on the worklist with the reason.

Revision ID: 0015_declnames
Revises: 0014_partnerops
Create Date: 2026-12-03 07:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015_declnames"
down_revision = "0014_partnerops"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("products") as batch:
        batch.add_column(sa.Column("declared_name", sa.String(250), nullable=True))
        batch.add_column(sa.Column("second_legal_unit", sa.String(3), nullable=True))
    op.execute("UPDATE products SET declared_name = SUBSTR(title, 1, 250)")
    with op.batch_alter_table("products") as batch:
        batch.alter_column("declared_name", existing_type=sa.String(250), nullable=False)

    with op.batch_alter_table("skus") as batch:
        batch.add_column(sa.Column("gmodel", sa.String(255), nullable=True))
        batch.add_column(sa.Column("net_content", sa.Numeric(12, 3), nullable=True))
        batch.add_column(sa.Column("net_content_unit", sa.String(8), nullable=True))
        batch.add_column(sa.Column("net_weight_grams", sa.Integer, nullable=True))
        batch.add_column(sa.Column("packaging_weight_grams", sa.Integer, server_default="0", nullable=False))
        batch.add_column(sa.Column("item_record_no", sa.String(30), nullable=True))
    op.execute(
        "UPDATE skus SET gmodel = SUBSTR(CASE WHEN spec <> '' THEN spec ELSE title END, 1, 255), "
        "net_weight_grams = weight_grams"
    )
    with op.batch_alter_table("skus") as batch:
        batch.alter_column("gmodel", existing_type=sa.String(255), nullable=False)
        batch.alter_column("net_weight_grams", existing_type=sa.Integer, nullable=False)

    with op.batch_alter_table("warehouses") as batch:
        batch.add_column(sa.Column("area_code", sa.String(18), nullable=True))
    with op.batch_alter_table("identities") as batch:
        batch.add_column(sa.Column("phone", sa.String(20), nullable=True))
    with op.batch_alter_table("orders") as batch:
        batch.add_column(sa.Column("buyer_phone", sa.String(20), nullable=True))
    op.execute("UPDATE orders SET buyer_phone = consignee_phone WHERE consignee_phone IS NOT NULL")

    op.create_table(
        "positive_list_editions",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("edition", sa.String(40), nullable=False),
        sa.Column("source", sa.String(500), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_positive_list_editions"),
        sa.UniqueConstraint("edition", name="uq_positive_list_editions_edition"),
    )
    op.create_table(
        "positive_list_goods",
        sa.Column("edition_id", BigId, nullable=False),
        sa.Column("hs_code", sa.String(10), nullable=False),
        sa.Column("name", sa.String(250), nullable=False),
        sa.Column("legal_unit", sa.String(3), nullable=False),
        sa.Column("second_legal_unit", sa.String(3), nullable=True),
        sa.PrimaryKeyConstraint("edition_id", "hs_code", name="pk_positive_list_goods"),
        sa.ForeignKeyConstraint(
            ["edition_id"],
            ["positive_list_editions.id"],
            name="fk_positive_list_goods_edition_id_positive_list_editions",
        ),
    )


def downgrade() -> None:
    op.drop_table("positive_list_goods")
    op.drop_table("positive_list_editions")
    with op.batch_alter_table("orders") as batch:
        batch.drop_column("buyer_phone")
    with op.batch_alter_table("identities") as batch:
        batch.drop_column("phone")
    with op.batch_alter_table("warehouses") as batch:
        batch.drop_column("area_code")
    with op.batch_alter_table("skus") as batch:
        for column in (
            "item_record_no",
            "packaging_weight_grams",
            "net_weight_grams",
            "net_content_unit",
            "net_content",
            "gmodel",
        ):
            batch.drop_column(column)
    with op.batch_alter_table("products") as batch:
        batch.drop_column("second_legal_unit")
        batch.drop_column("declared_name")
