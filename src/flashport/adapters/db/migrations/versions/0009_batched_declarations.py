"""Batched customs messages: one CEB311 or CEB621 carries up to 100 declarations' documents.

The message is kept once, exactly as sent, in ``customs_batches``; each document in it keeps its own
row in ``customs_messages`` (its head guid, which receipts name) pointing at the batch, with no body
of its own. A message with one document keeps its body in its own row, as before.

Revision ID: 0009_batched_declarations
Revises: 0008_partners
Create Date: 2026-12-02 18:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_batched_declarations"
down_revision = "0008_partners"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "customs_batches",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("party", sa.String(16), nullable=False),
        sa.Column("guid", sa.String(36), nullable=False),
        sa.Column("body_cipher", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint("id", name="pk_customs_batches"),
        sa.UniqueConstraint("guid", name="uq_customs_batches_guid"),
    )
    with op.batch_alter_table("customs_messages") as batch:
        batch.alter_column("body_cipher", existing_type=sa.Text, nullable=True)
        batch.add_column(sa.Column("batch_id", BigId))
        batch.create_foreign_key(
            "fk_customs_messages_batch_id_customs_batches", "customs_batches", ["batch_id"], ["id"]
        )
        batch.create_index("ix_customs_messages_batch_id", ["batch_id"])


def downgrade() -> None:
    """Fails while batched documents are kept (their rows have no body of their own)."""
    with op.batch_alter_table("customs_messages") as batch:
        batch.drop_index("ix_customs_messages_batch_id")
        batch.drop_constraint("fk_customs_messages_batch_id_customs_batches", type_="foreignkey")
        batch.drop_column("batch_id")
        batch.alter_column("body_cipher", existing_type=sa.Text, nullable=False)
    op.drop_table("customs_batches")
