"""The operator console's controls over a running sale: pause and resume an item or a whole event, top up
an item's allotment, end an event early.

Each command is one transaction that changes the sale, writes an outbox event and an audit entry, so the
three commit together or not at all; after the commit the stock engine and this process's buy path learn
of the change (``inventory.items_changed``). With Redis every other API process hears of it by pub/sub
and forgets its copy of the item's terms at once (bootstrap's ``_item_news``), so a pause stops purchases
everywhere within milliseconds; without Redis (the SQL engine) they see a pause or a resume within their
terms cache's lifetime (2 s). An early end and a top-up reach the Redis stock engine at once.

A repeated pause or resume changes nothing and records nothing (``changed`` is False), so a double
click or a retry is harmless.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flashport.adapters.db import console_repo, sales_repo, stock_repo
from flashport.domain.errors import Conflict, InvalidInput
from flashport.domain.sales import MAX_ITEM_QUANTITY, EventStatus, status_by_clock
from flashport.services.context import Context, Tx
from flashport.services.sales import inventory
from flashport.services.sales.loading import event_or_404, item_or_404


@dataclass(frozen=True, slots=True)
class ControlResult:
    action: str
    subject: str
    changed: bool
    details: dict[str, Any]


async def pause_event(ctx: Context, operator_id: int, event_id: int) -> ControlResult:
    return await _pause(ctx, operator_id, "event", event_id, pausing=True)


async def resume_event(ctx: Context, operator_id: int, event_id: int) -> ControlResult:
    return await _pause(ctx, operator_id, "event", event_id, pausing=False)


async def pause_item(ctx: Context, operator_id: int, item_id: int) -> ControlResult:
    return await _pause(ctx, operator_id, "item", item_id, pausing=True)


async def resume_item(ctx: Context, operator_id: int, item_id: int) -> ControlResult:
    return await _pause(ctx, operator_id, "item", item_id, pausing=False)


async def top_up_item(ctx: Context, operator_id: int, item_id: int, units: int) -> ControlResult:
    """Add ``units`` to a scheduled or live item, drawn from the warehouse's free stock (or refused with
    ``insufficient_stock``, changing nothing)."""
    if units < 1:
        raise InvalidInput(
            "a top-up adds at least one unit", code="invalid_units", facts={"max": MAX_ITEM_QUANTITY}
        )
    async with ctx.transaction() as tx:
        item = await item_or_404(tx.conn, item_id)
        event = await event_or_404(tx.conn, item.event_id, lock=True)
        _check_running(status_by_clock(event.state, event.starts_at, event.ends_at, tx.now), "topped up")
        quantity = item.quantity + units
        if quantity > MAX_ITEM_QUANTITY:
            raise InvalidInput(
                f"an item holds at most {MAX_ITEM_QUANTITY:,} units",
                code="invalid_units",
                facts={"max": MAX_ITEM_QUANTITY},
            )
        if not await stock_repo.allot(tx.conn, item.sku_id, item.warehouse_id, units, tx.now):
            free = await stock_repo.free_units(tx.conn, item.sku_id, item.warehouse_id) or 0
            raise Conflict(
                f"only {free} units of this SKU are free in its warehouse; {units} were asked for",
                code="insufficient_stock",
                facts={"free": free, "asked": units},
            )
        terms = {
            "sale_price_fen": item.sale_price_fen,
            "quantity": quantity,
            "per_buyer_limit": item.per_buyer_limit,
        }
        await sales_repo.update_item(tx.conn, item_id, terms, tx.now)
        details = {"event_id": item.event_id, "item_id": item_id, "units": units, "quantity": quantity}
        result = await _record(tx, operator_id, "sale_item.topped_up", f"item:{item_id}", details)
    await inventory.items_changed(ctx, [item_id])
    return result


async def end_event_early(ctx: Context, operator_id: int, event_id: int) -> ControlResult:
    """End a live event now: nothing more sells; orders already made may still be paid in their window."""
    async with ctx.transaction() as tx:
        event = await event_or_404(tx.conn, event_id, lock=True)
        status = status_by_clock(event.state, event.starts_at, event.ends_at, tx.now)
        if status is not EventStatus.LIVE:
            hint = "; cancel it instead" if status is EventStatus.SCHEDULED else ""
            raise Conflict(
                f"only a live event can end early (this one is {status.value}){hint}",
                code="bad_state",
                facts={"state": status.value, "action": "end"},
            )
        await sales_repo.update_event(tx.conn, event_id, {"ends_at": tx.now}, tx.now)
        details = {"event_id": event_id, "planned_end": _iso(event.ends_at), "ended_at": _iso(tx.now)}
        result = await _record(tx, operator_id, "event.ended_early", f"event:{event_id}", details)
        item_ids = [item.id for item in await sales_repo.items_of(tx.conn, [event_id])]
    await inventory.items_changed(ctx, item_ids)
    return result


async def _pause(ctx: Context, operator_id: int, kind: str, ref: int, *, pausing: bool) -> ControlResult:
    async with ctx.transaction() as tx:
        if kind == "event":
            event = await event_or_404(tx.conn, ref, lock=True)
            item_ids = [item.id for item in await sales_repo.items_of(tx.conn, [ref])]
            details: dict[str, Any] = {"event_id": ref}
        else:
            item = await item_or_404(tx.conn, ref)
            event = await event_or_404(tx.conn, item.event_id, lock=True)
            item_ids = [ref]
            details = {"event_id": item.event_id, "item_id": ref}
        verb = "paused" if pausing else "resumed"
        if pausing:
            _check_running(status_by_clock(event.state, event.starts_at, event.ends_at, tx.now), verb)
            changed = await console_repo.pause(tx.conn, kind, ref, operator_id, tx.now)
        else:
            changed = await console_repo.resume(tx.conn, kind, ref)
        action, subject = f"{'sale_item' if kind == 'item' else 'event'}.{verb}", f"{kind}:{ref}"
        if not changed:
            return ControlResult(action, subject, False, details)
        result = await _record(tx, operator_id, action, subject, details)
    await inventory.items_changed(ctx, item_ids)
    return result


async def _record(
    tx: Tx, operator_id: int, action: str, subject: str, details: dict[str, Any]
) -> ControlResult:
    """The outbox event and the audit entry of one operator action, in its transaction."""
    await tx.emit(action, f"event:{details['event_id']}", {**details, "operator_id": operator_id})
    await console_repo.record(tx.conn, operator_id, action, subject, details, tx.now)
    return ControlResult(action, subject, True, details)


def _check_running(status: EventStatus, verb: str) -> None:
    if status not in (EventStatus.SCHEDULED, EventStatus.LIVE):
        raise Conflict(
            f"a {status.value} sale cannot be {verb}",
            code="bad_state",
            facts={"state": status.value, "action": verb.replace(" ", "_")},
        )


def _iso(moment: datetime) -> str:
    return moment.isoformat()


async def audit_log(
    ctx: Context,
    *,
    before_id: int | None = None,
    limit: int = 50,
    action: str | None = None,
    subject: str | None = None,
    operator_id: int | None = None,
) -> list[console_repo.AuditEntry]:
    """Operator actions, newest first, filtered by action, subject (``event:ID``, ``item:ID``) or operator."""
    async with ctx.read() as conn:
        return await console_repo.audit_page(
            conn, before_id=before_id, limit=limit, action=action, subject=subject, operator_id=operator_id
        )
