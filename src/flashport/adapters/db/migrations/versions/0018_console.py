"""The console's roles and refunds: merchandiser and customer service accounts beside operator, supplier
and buyer; a refund given by a person keeps who asked for it and why.

Revision ID: 0018_console
Revises: 0017_harden
Create Date: 2026-12-03 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

revision = "0018_console"
down_revision = "0017_harden"
branch_labels = None
depends_on = None

OLD_ROLES = "'buyer', 'operator', 'supplier'"
NEW_ROLES = "'buyer', 'operator', 'supplier', 'merchandiser', 'customer_service'"


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_constraint(op.f("ck_users_role"), type_="check")
        batch.create_check_constraint(op.f("ck_users_role"), f"role IN ({NEW_ROLES})")
    with op.batch_alter_table("refunds") as batch:
        batch.add_column(sa.Column("requested_by", BigId, nullable=True))
        batch.add_column(sa.Column("note", sa.String(500), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("refunds") as batch:
        batch.drop_column("note")
        batch.drop_column("requested_by")
    op.execute("DELETE FROM users WHERE role IN ('merchandiser', 'customer_service')")
    with op.batch_alter_table("users") as batch:
        batch.drop_constraint(op.f("ck_users_role"), type_="check")
        batch.create_check_constraint(op.f("ck_users_role"), f"role IN ({OLD_ROLES})")
