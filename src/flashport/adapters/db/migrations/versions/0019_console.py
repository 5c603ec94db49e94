"""The console's roles and refunds: merchandiser and customer service accounts beside operator, supplier
and buyer; a refund given by a person keeps who asked for it and why; the order desk finds orders by
phone (partial indexes: the buy path's inserts, which have no phone yet, never touch them).

Revision ID: 0019_console
Revises: 0018_track
Create Date: 2026-12-03 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

revision = "0019_console"
down_revision = "0018_track"
branch_labels = None
depends_on = None

OLD_ROLES = "'buyer', 'operator', 'supplier'"
PHONES = ("consignee_phone", "buyer_phone")  # the order desk finds orders by either
NEW_ROLES = "'buyer', 'operator', 'supplier', 'merchandiser', 'customer_service'"


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_constraint(op.f("ck_users_role"), type_="check")
        batch.create_check_constraint(op.f("ck_users_role"), f"role IN ({NEW_ROLES})")
    with op.batch_alter_table("refunds") as batch:
        batch.add_column(sa.Column("requested_by", BigId, nullable=True))
        batch.add_column(sa.Column("note", sa.String(500), nullable=True))
    for column in PHONES:
        op.create_index(
            f"ix_orders_{column}",
            "orders",
            [column],
            postgresql_where=sa.text(f"{column} IS NOT NULL"),
            sqlite_where=sa.text(f"{column} IS NOT NULL"),
        )


def downgrade() -> None:
    for column in PHONES:
        op.drop_index(f"ix_orders_{column}", table_name="orders")
    with op.batch_alter_table("refunds") as batch:
        batch.drop_column("note")
        batch.drop_column("requested_by")
    op.execute("DELETE FROM users WHERE role IN ('merchandiser', 'customer_service')")
    with op.batch_alter_table("users") as batch:
        batch.drop_constraint(op.f("ck_users_role"), type_="check")
        batch.create_check_constraint(op.f("ck_users_role"), f"role IN ({OLD_ROLES})")
