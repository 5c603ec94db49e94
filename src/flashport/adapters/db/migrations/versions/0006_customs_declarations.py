"""Customs declarations: one per paid order with its progress through the single window, every message
sent (encrypted: they carry ID numbers), every receipt, the inbox cursor, and the account book of
bonded warehouses.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25 14:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
WHEN = sa.DateTime(timezone=True)
STATES = "'pending', 'declared', 'received', 'matched', 'released', 'shipped', 'rejected', 'refunded'"


def _version(name: str) -> sa.Column[int]:
    return sa.Column(name, sa.Integer(), server_default="0", nullable=False)


def upgrade() -> None:
    with op.batch_alter_table("warehouses") as batch:
        batch.add_column(sa.Column("ems_no", sa.String(length=30), nullable=True))
    op.create_table(
        "declarations",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("order_id", sa.String(length=36), nullable=False),
        sa.Column("order_no", sa.String(length=32), nullable=False),
        sa.Column("trade_mode", sa.String(length=4), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        _version("order_sent_version"),
        _version("payment_declared_version"),
        _version("waybill_version"),
        _version("inventory_sent_version"),
        sa.Column("cop_no", sa.String(length=20), nullable=False),
        sa.Column("payment_declare_no", sa.String(length=64), nullable=True),
        sa.Column("logistics_no", sa.String(length=40), nullable=True),
        sa.Column("logistics_code", sa.String(length=18), nullable=True),
        sa.Column("logistics_name", sa.String(length=100), nullable=True),
        sa.Column("bill_no", sa.String(length=40), nullable=True),
        sa.Column("traf_no", sa.String(length=40), nullable=True),
        sa.Column("voyage_no", sa.String(length=40), nullable=True),
        sa.Column("reason_code", sa.String(length=40), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_attempt_at", WHEN, nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("refund_after", WHEN, nullable=True),
        sa.Column("released_at", WHEN, nullable=True),
        sa.Column("shipped_at", WHEN, nullable=True),
        sa.Column("withdrawn_at", WHEN, nullable=True),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("updated_at", WHEN, nullable=False),
        sa.CheckConstraint("trade_mode IN ('1210', '9610')", name=op.f("ck_declarations_trade_mode")),
        sa.CheckConstraint(f"state IN ({STATES})", name=op.f("ck_declarations_state")),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], name=op.f("fk_declarations_order_id_orders")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_declarations")),
        sa.UniqueConstraint("cop_no", name=op.f("uq_declarations_cop_no")),
        sa.UniqueConstraint("order_id", name=op.f("uq_declarations_order_id")),
        sa.UniqueConstraint("order_no", name=op.f("uq_declarations_order_no")),
    )
    op.create_index("ix_declarations_state_next", "declarations", ["state", "next_attempt_at"])
    op.create_table(
        "customs_messages",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("declaration_id", BIG_ID, nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("party", sa.String(length=16), nullable=False),
        sa.Column("app_type", sa.String(length=1), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("guid", sa.String(length=36), nullable=False),
        sa.Column("body_cipher", sa.Text(), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("sent_at", WHEN, nullable=True),
        sa.ForeignKeyConstraint(
            ["declaration_id"],
            ["declarations.id"],
            name=op.f("fk_customs_messages_declaration_id_declarations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customs_messages")),
        sa.UniqueConstraint("guid", name=op.f("uq_customs_messages_guid")),
    )
    op.create_index(op.f("ix_customs_messages_declaration_id"), "customs_messages", ["declaration_id"])
    op.create_table(
        "customs_receipts",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("declaration_id", BIG_ID, nullable=True),
        sa.Column("dxp_id", sa.String(length=40), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("part", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("message_guid", sa.String(length=36), nullable=False),
        sa.Column("return_status", sa.Integer(), nullable=False),
        sa.Column("return_info", sa.Text(), nullable=False),
        sa.Column("return_time", WHEN, nullable=False),
        sa.Column("applied", sa.Boolean(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("received_at", WHEN, nullable=False),
        sa.ForeignKeyConstraint(
            ["declaration_id"],
            ["declarations.id"],
            name=op.f("fk_customs_receipts_declaration_id_declarations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customs_receipts")),
        sa.UniqueConstraint("dxp_id", "seq", "part", name="uq_customs_receipts_inbox_seq"),
    )
    op.create_index(op.f("ix_customs_receipts_declaration_id"), "customs_receipts", ["declaration_id"])
    op.create_table(
        "customs_inbox_cursors",
        sa.Column("dxp_id", sa.String(length=40), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", WHEN, nullable=False),
        sa.PrimaryKeyConstraint("dxp_id", name=op.f("pk_customs_inbox_cursors")),
    )


def downgrade() -> None:
    op.drop_table("customs_inbox_cursors")
    op.drop_index(op.f("ix_customs_receipts_declaration_id"), table_name="customs_receipts")
    op.drop_table("customs_receipts")
    op.drop_index(op.f("ix_customs_messages_declaration_id"), table_name="customs_messages")
    op.drop_table("customs_messages")
    op.drop_index("ix_declarations_state_next", table_name="declarations")
    op.drop_table("declarations")
    with op.batch_alter_table("warehouses") as batch:
        batch.drop_column("ems_no")
