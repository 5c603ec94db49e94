"""The pipeline run's audit: from what the database holds about each order of the run, did every order
go through the back office exactly once? Pure: the facts are read elsewhere (``pipeline_db``).

A check fails with the number of orders it caught and a few of their numbers, so the morning-after
reader can open them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

# Events every order of the run must have exactly once, in the outbox, by the end.
ONCE_EACH = (
    "order.paid",
    "declaration.opened",
    "declaration.declared",
    "declaration.released",
    "order.shipped",
)
# Receipts that move a declaration; each applied receipt must have written exactly one of them.
TRANSITIONS = ("declaration.received", "declaration.matched", "declaration.released", "declaration.rejected")
# The documents the platform holds for each version: its order and inventory list, the carrier's waybill.
DOCUMENTS = ("CEB311", "CEB511", "CEB621")
PLATFORM_DOCUMENTS = ("CEB311", "CEB621")  # the ones it sends itself (a customs.message_sent each)
EXAMPLES = 5


@dataclass(frozen=True)
class OrderFacts:
    """One order of the run as the database has it at the end."""

    order_no: str
    status: str  # orders.status
    declaration_state: str | None  # None: no declaration was ever opened
    version: int  # the declaration's current version (0 without one)
    events: Mapping[str, int] = field(default_factory=dict)  # outbox event type -> how many
    sent: Mapping[str, int] = field(default_factory=dict)  # customs.message_sent events by message kind
    documents: Mapping[tuple[str, int], int] = field(default_factory=dict)  # (kind, version) -> rows
    applied_receipts: int = 0  # customs_receipts rows applied to the declaration
    receipts_applied_twice: int = 0  # the same verdict (message, status) applied more than once


@dataclass(frozen=True)
class AuditCheck:
    name: str
    failed: int  # orders that break it
    examples: list[str]

    @property
    def passed(self) -> bool:
        return self.failed == 0


def audit(facts: Sequence[OrderFacts], expected_orders: int) -> list[AuditCheck]:
    """Every check over every order; all must pass."""
    checks = [
        AuditCheck(
            f"all {expected_orders:,} orders of the run are in the database",
            abs(expected_orders - len(facts)),
            [],
        ),
        _check("every order paid", facts, lambda f: f.status == "paid"),
        _check("every order shipped exactly once", facts, _shipped_once),
        _check("every document declared once per version", facts, _declared_once_per_version),
        _check("every receipt applied once", facts, _receipts_applied_once),
        _check("the outbox holds every event", facts, _all_events),
    ]
    return checks


def _check(name: str, facts: Sequence[OrderFacts], holds: Callable[[OrderFacts], bool]) -> AuditCheck:
    broken = [f.order_no for f in facts if not holds(f)]
    return AuditCheck(name, len(broken), broken[:EXAMPLES])


def _shipped_once(f: OrderFacts) -> bool:
    return f.declaration_state == "shipped" and f.events.get("order.shipped", 0) == 1


def _declared_once_per_version(f: OrderFacts) -> bool:
    if f.version < 1 or any(count != 1 for count in f.documents.values()):
        return False
    return all((kind, version) in f.documents for kind in DOCUMENTS for version in range(1, f.version + 1))


def _receipts_applied_once(f: OrderFacts) -> bool:
    moves = sum(f.events.get(event, 0) for event in TRANSITIONS)
    return f.receipts_applied_twice == 0 and f.applied_receipts == moves and f.applied_receipts > 0


def _all_events(f: OrderFacts) -> bool:
    return all(f.events.get(event, 0) == 1 for event in ONCE_EACH) and all(
        f.sent.get(kind, 0) >= f.version for kind in PLATFORM_DOCUMENTS
    )


def passed(checks: Sequence[AuditCheck]) -> bool:
    return all(c.passed for c in checks)
