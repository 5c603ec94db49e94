"""What the pipeline bench reads from the platform's database: how far the run's orders have come (while
it waits), when each reached each stage (from the outbox, afterwards), and the facts the audit judges.

Everything is limited to the run's sale item, and outbox reads to rows written after the run began, so
the bench can run on a database with history.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from flashport.adapters.db.schema import customs_messages, customs_receipts, declarations, orders, outbox
from flashport.bench.pipeline_audit import OrderFacts
from flashport.services.context import Context

# The outbox event that marks each stage, in pipeline order.
STAGE_EVENTS = {
    "order.paid": "paid",
    "declaration.declared": "declared",
    "declaration.received": "received",
    "declaration.matched": "matched",
    "declaration.released": "released",
    "order.shipped": "shipped",
}
STAGES = tuple(STAGE_EVENTS.values())


@dataclass(frozen=True)
class Progress:
    paid: int
    states: dict[str, int]  # declarations of the run by state

    def reached(self, state: str) -> int:
        return self.states.get(state, 0)


@dataclass(frozen=True)
class StageEvent:
    order_no: str
    stage: str
    at: datetime


def _of_run(item_id: int) -> Any:
    return orders.c.sale_item_id == item_id


def _event_of_order() -> Any:
    return outbox.c.subject == sa.literal("order:") + orders.c.order_no


async def outbox_mark(ctx: Context) -> int:
    """The newest outbox id now: the run's events all come after it."""
    async with ctx.read() as conn:
        return int(await conn.scalar(sa.select(sa.func.coalesce(sa.func.max(outbox.c.id), 0))) or 0)


async def database_backends(ctx: Context) -> list[int]:
    """Process ids of the PostgreSQL backends connected to the run's database (empty on SQLite)."""
    if ctx.engine.dialect.name != "postgresql":
        return []
    async with ctx.read() as conn:
        rows = await conn.scalars(
            sa.text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
        )
        return [int(pid) for pid in rows]


async def order_numbers(ctx: Context, item_id: int) -> dict[int, str]:
    """The run's orders by buyer (one each)."""
    async with ctx.read() as conn:
        rows = await conn.execute(sa.select(orders.c.buyer_id, orders.c.order_no).where(_of_run(item_id)))
        return {int(r.buyer_id): str(r.order_no) for r in rows}


async def progress(ctx: Context, item_id: int) -> Progress:
    async with ctx.read() as conn:
        paid = await conn.scalar(
            sa.select(sa.func.count()).where(_of_run(item_id), orders.c.status == "paid")
        )
        rows = await conn.execute(
            sa.select(declarations.c.state, sa.func.count())
            .select_from(declarations.join(orders, orders.c.id == declarations.c.order_id))
            .where(_of_run(item_id))
            .group_by(declarations.c.state)
        )
        return Progress(int(paid or 0), {str(state): int(n) for state, n in rows})


async def stuck(ctx: Context, item_id: int, limit: int = 5) -> list[str]:
    """A few declarations not shipped yet, with their last error: what a timeout report shows."""
    async with ctx.read() as conn:
        rows = await conn.execute(
            sa.select(declarations.c.order_no, declarations.c.state, declarations.c.last_error)
            .select_from(declarations.join(orders, orders.c.id == declarations.c.order_id))
            .where(_of_run(item_id), declarations.c.state != "shipped")
            .limit(limit)
        )
        return [f"{r.order_no} {r.state}: {(r.last_error or '-')[:300]}" for r in rows]


async def stage_events(ctx: Context, item_id: int, after_id: int) -> list[StageEvent]:
    async with ctx.read() as conn:
        rows = await conn.execute(
            sa.select(orders.c.order_no, outbox.c.type, outbox.c.occurred_at)
            .select_from(orders.join(outbox, _event_of_order()))
            .where(_of_run(item_id), outbox.c.id > after_id, outbox.c.type.in_(STAGE_EVENTS))
        )
        return [StageEvent(r.order_no, STAGE_EVENTS[r.type], r.occurred_at) for r in rows]


async def order_facts(ctx: Context, item_id: int, after_id: int) -> list[OrderFacts]:
    """Each order of the run with its declaration, outbox events, documents and applied receipts."""
    async with ctx.read() as conn:
        base = (
            await conn.execute(
                sa.select(
                    orders.c.order_no,
                    orders.c.status,
                    declarations.c.id.label("declaration_id"),
                    declarations.c.state,
                    declarations.c.version,
                )
                .select_from(orders.outerjoin(declarations, declarations.c.order_id == orders.c.id))
                .where(_of_run(item_id))
            )
        ).all()
        events = (
            await conn.execute(
                sa.select(orders.c.order_no, outbox.c.type, outbox.c.payload)
                .select_from(orders.join(outbox, _event_of_order()))
                .where(_of_run(item_id), outbox.c.id > after_id)
            )
        ).all()
        documents = (
            await conn.execute(
                sa.select(
                    customs_messages.c.declaration_id,
                    customs_messages.c.kind,
                    customs_messages.c.version,
                    sa.func.count(),
                )
                .select_from(_run_declarations(customs_messages.c.declaration_id))
                .where(_of_run(item_id), customs_messages.c.app_type != "3")
                .group_by(
                    customs_messages.c.declaration_id, customs_messages.c.kind, customs_messages.c.version
                )
            )
        ).all()
        receipts = (
            await conn.execute(
                sa.select(
                    customs_receipts.c.declaration_id,
                    customs_receipts.c.message_guid,
                    customs_receipts.c.return_status,
                    sa.func.count(),
                )
                .select_from(_run_declarations(customs_receipts.c.declaration_id))
                .where(_of_run(item_id), customs_receipts.c.applied.is_(True))
                .group_by(
                    customs_receipts.c.declaration_id,
                    customs_receipts.c.message_guid,
                    customs_receipts.c.return_status,
                )
            )
        ).all()
    return _assemble(base, events, documents, receipts)


def _run_declarations(declaration_id: Any) -> Any:
    table = declaration_id.table
    return table.join(declarations, declarations.c.id == declaration_id).join(
        orders, orders.c.id == declarations.c.order_id
    )


def _assemble(base: Any, events: Any, documents: Any, receipts: Any) -> list[OrderFacts]:
    counted: dict[str, Counter[str]] = defaultdict(Counter)
    sent: dict[str, Counter[str]] = defaultdict(Counter)
    for order_no, type_, payload in events:
        counted[order_no][type_] += 1
        if type_ == "customs.message_sent" and isinstance(payload, dict) and payload.get("app_type") != "3":
            sent[order_no][str(payload.get("kind"))] += 1
    docs: dict[int, dict[tuple[str, int], int]] = defaultdict(dict)
    for declaration_id, kind, version, n in documents:
        docs[declaration_id][(kind, int(version))] = int(n)
    applied: Counter[int] = Counter()
    twice: Counter[int] = Counter()
    for declaration_id, _guid, _status, n in receipts:
        applied[declaration_id] += int(n)
        twice[declaration_id] += int(n > 1)
    return [
        OrderFacts(
            order_no=row.order_no,
            status=row.status,
            declaration_state=row.state,
            version=int(row.version or 0),
            events=dict(counted[row.order_no]),
            sent=dict(sent[row.order_no]),
            documents=docs.get(row.declaration_id, {}),
            applied_receipts=applied[row.declaration_id],
            receipts_applied_twice=twice[row.declaration_id],
        )
        for row in base
    ]
