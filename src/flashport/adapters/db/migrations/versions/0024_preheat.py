"""The pre-heat date of a sale event (issue 16, sale calendar), and what of a product cannot be
returned (issue 17, trust on the item page).

``sale_events.preheat_at``: from this instant buyers see the scheduled sale (its items, prices and a
countdown, no buy button); before it the event is hidden from them. NULL keeps the earlier behaviour:
shown as soon as it is scheduled. It is always before the start (``ck_sale_events_preheat_before_start``).

``products.return_exclusions`` and ``return_exclusions_zh``: what of the product cannot be returned
(e.g. "Opened tins cannot be returned."), in English and Chinese; empty when nothing is excluded.

Revision ID: 0024_preheat
Revises: 0023_withdraw
Create Date: 2026-12-03 14:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0024_preheat"
down_revision = "0023_withdraw"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sale_events") as batch:
        batch.add_column(sa.Column("preheat_at", sa.DateTime(timezone=True), nullable=True))
        batch.create_check_constraint(
            op.f("ck_sale_events_preheat_before_start"), "preheat_at IS NULL OR preheat_at < starts_at"
        )
    with op.batch_alter_table("products") as batch:
        batch.add_column(sa.Column("return_exclusions", sa.String(500), server_default="", nullable=False))
        batch.add_column(sa.Column("return_exclusions_zh", sa.String(500), server_default="", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("products") as batch:
        batch.drop_column("return_exclusions_zh")
        batch.drop_column("return_exclusions")
    with op.batch_alter_table("sale_events") as batch:
        batch.drop_constraint(op.f("ck_sale_events_preheat_before_start"), type_="check")
        batch.drop_column("preheat_at")
