"""Stages after declaring: customs statuses the platform now follows (manual review, inspection,
detention, return), the operator's worklist flag, and a lease on the single window's inbox so one
worker at a time reads it. Receipts that arrive while their declaration is still being sent are
kept ``deferred`` and applied once it is declared.

Revision ID: 0010_stages
Revises: 0009_batched_declarations
Create Date: 2026-12-02 18:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_stages"
down_revision = "0009_batched_declarations"
branch_labels = None
depends_on = None

OLD_STATES = "'pending', 'declared', 'received', 'matched', 'released', 'shipped', 'rejected', 'refunded'"
NEW_STATES = (
    "'pending', 'declared', 'received', 'matched', 'under_review', 'reviewed', 'inspection', 'detained', "
    "'released', 'shipped', 'rejected', 'refunded', 'returned'"
)


def upgrade() -> None:
    with op.batch_alter_table("declarations") as batch:
        batch.add_column(sa.Column("attention_reason", sa.Text(), nullable=True))
        batch.add_column(sa.Column("attention_at", sa.DateTime(timezone=True), nullable=True))
        batch.drop_constraint(op.f("ck_declarations_state"), type_="check")
        batch.create_check_constraint(op.f("ck_declarations_state"), f"state IN ({NEW_STATES})")
    with op.batch_alter_table("customs_inbox_cursors") as batch:
        batch.add_column(sa.Column("leased_by", sa.String(64), nullable=True))
        batch.add_column(sa.Column("leased_until", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("customs_receipts") as batch:
        batch.add_column(sa.Column("deferred", sa.Boolean(), server_default=sa.false(), nullable=False))
    op.create_index(
        "ix_customs_receipts_deferred",
        "customs_receipts",
        ["declaration_id"],
        postgresql_where=sa.text("deferred"),
        sqlite_where=sa.text("deferred"),
    )


def downgrade() -> None:
    op.drop_index("ix_customs_receipts_deferred", table_name="customs_receipts")
    with op.batch_alter_table("customs_receipts") as batch:
        batch.drop_column("deferred")
    with op.batch_alter_table("customs_inbox_cursors") as batch:
        batch.drop_column("leased_until")
        batch.drop_column("leased_by")
    with op.batch_alter_table("declarations") as batch:
        batch.drop_constraint(op.f("ck_declarations_state"), type_="check")
        batch.create_check_constraint(op.f("ck_declarations_state"), f"state IN ({OLD_STATES})")
        batch.drop_column("attention_at")
        batch.drop_column("attention_reason")
