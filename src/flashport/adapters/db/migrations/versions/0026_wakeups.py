"""Worker wake-ups on PostgreSQL: triggers that NOTIFY channel ``flashport_wake`` with the name of the
worker stage a committed change gives work to (``adapters/db/wake_listener.py`` listens). PostgreSQL
delivers a notification only when its transaction commits, and one per distinct payload per
transaction, so a settlement batch of a thousand payments wakes declaring once.

Only the queues other processes fill are here: a declaration opened or put back to pending (the API
settles a payment, an operator re-declares), a refund due (the API cancels a paid order), a buyer's
cancellation and an approved return. None of these tables is written by the buy path, whose commits
must not take the lock that orders notifying commits. SQLite has no NOTIFY: nothing to do there.

Revision ID: 0026_wakeups
Revises: 0025_checkout
Create Date: 2026-12-05 05:20:00
"""

from __future__ import annotations

from alembic import op

revision = "0026_wakeups"
down_revision = "0025_checkout"
branch_labels = None
depends_on = None

_FUNCTION = """
CREATE FUNCTION flashport_wake() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('flashport_wake', TG_ARGV[0]);
    RETURN NULL;
END
$$
"""

# (trigger, table, when it fires, stage woken)
_TRIGGERS = [
    ("declarations_opened_wake", "declarations", "AFTER INSERT", "FOR EACH STATEMENT", "declared"),
    (
        "declarations_pending_wake",
        "declarations",
        "AFTER UPDATE OF state",
        "FOR EACH ROW WHEN (NEW.state = 'pending' AND OLD.state <> 'pending')",
        "declared",
    ),
    ("refunds_due_wake", "refunds", "AFTER INSERT", "FOR EACH STATEMENT", "refunds_sent"),
    ("cancellations_wake", "cancellations", "AFTER INSERT", "FOR EACH STATEMENT", "cancellations_declared"),
    (
        "aftersales_approved_wake",
        "aftersales",
        "AFTER UPDATE OF state",
        "FOR EACH ROW WHEN (NEW.state = 'approved' AND OLD.state <> 'approved')",
        "returns_declared",
    ),
]


def _postgres() -> bool:
    return bool(op.get_bind().dialect.name == "postgresql")


def upgrade() -> None:
    if not _postgres():
        return
    op.execute(_FUNCTION)
    for name, table, when, each, stage in _TRIGGERS:
        op.execute(
            f"CREATE TRIGGER {name} {when} ON {table} {each} EXECUTE FUNCTION flashport_wake('{stage}')"
        )


def downgrade() -> None:
    if not _postgres():
        return
    for name, table, *_ in _TRIGGERS:
        op.execute(f"DROP TRIGGER {name} ON {table}")
    op.execute("DROP FUNCTION flashport_wake()")
