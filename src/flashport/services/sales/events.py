"""Operators build flash-sale events: create, update, schedule, cancel.

Each command is one transaction that also writes one outbox event; the stock engine hears about the
event's items only after that transaction has committed. Items are in ``sales.items``, reads in
``sales.queries``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from flashport.adapters.db import sales_repo, stock_repo
from flashport.domain import sales as rules
from flashport.domain.errors import FieldProblem, InvalidInput
from flashport.domain.sale_entities import EventView
from flashport.domain.sales import EventState
from flashport.services.context import Context
from flashport.services.orders import lifecycle as order_service
from flashport.services.sales import inventory
from flashport.services.sales.loading import editable_event, event_or_404
from flashport.services.sales.views import event_view

EDITABLE_FIELDS = ("title", "channel", "description", "banner_url", "starts_at", "ends_at", "preheat_at")
_REQUIRED = frozenset({"title", "channel", "description", "starts_at", "ends_at"})


async def create_event(
    ctx: Context,
    *,
    title: str,
    channel: str,
    starts_at: datetime,
    ends_at: datetime,
    description: str = "",
    banner_url: str | None = None,
    preheat_at: datetime | None = None,
) -> EventView:
    """A new draft event. Times must be timezone-aware, the length within the policy, and the pre-heat
    (when buyers first see it once scheduled; None: at once) before the start."""
    values = _clean(
        {
            "title": title,
            "channel": channel,
            "description": description,
            "banner_url": banner_url,
            "starts_at": starts_at,
            "ends_at": ends_at,
            "preheat_at": preheat_at,
        }
    )
    rules.check_window(values["starts_at"], values["ends_at"], ctx.policy)
    rules.check_preheat(values["preheat_at"], values["starts_at"])
    async with ctx.transaction() as tx:
        event_id = await sales_repo.insert_event(tx.conn, values, tx.now)
        await tx.emit("event.created", f"event:{event_id}", {"event_id": event_id, **_payload(values)})
    return await event_view(ctx, event_id)


async def update_event(ctx: Context, event_id: int, changes: Mapping[str, Any]) -> EventView:
    """Change some of :data:`EDITABLE_FIELDS` of a draft, or of a scheduled event that has not started.

    Only fields present in ``changes`` change; ``banner_url`` and ``preheat_at`` may be set to None to
    remove them. A pre-heat stays before the start, whichever of the two moves.
    """
    unknown = sorted(set(changes) - set(EDITABLE_FIELDS))
    if unknown:
        raise InvalidInput(
            f"these fields cannot be changed: {', '.join(unknown)}",
            code="invalid_field",
            details=[FieldProblem(name, "not an editable field") for name in unknown],
        )
    cleaned = _clean(changes)
    async with ctx.transaction() as tx:
        event, items = await editable_event(tx.conn, event_id, tx.now)
        starts_at = cleaned.get("starts_at", event.starts_at)
        rules.check_window(starts_at, cleaned.get("ends_at", event.ends_at), ctx.policy)
        rules.check_preheat(cleaned.get("preheat_at", event.preheat_at), starts_at)
        rules.check_start_change(event.state, starts_at, tx.now)
        changed = {name: value for name, value in cleaned.items() if getattr(event, name) != value}
        if changed:
            await sales_repo.update_event(tx.conn, event_id, changed, tx.now)
            await tx.emit("event.updated", f"event:{event_id}", {"event_id": event_id, **_payload(changed)})
    if changed:
        await inventory.items_changed(ctx, [item.id for item in items])
    return await event_view(ctx, event_id)


async def schedule_event(ctx: Context, event_id: int) -> EventView:
    """Announce a draft event: it needs at least one item and a start in the future."""
    async with ctx.transaction() as tx:
        event = await event_or_404(tx.conn, event_id, lock=True)
        item_ids = [item.id for item in await sales_repo.items_of(tx.conn, [event_id])]
        rules.check_window(event.starts_at, event.ends_at, ctx.policy)  # the policy may have moved
        rules.check_schedulable(event.state, event.starts_at, tx.now, len(item_ids))
        await sales_repo.set_state(tx.conn, event_id, EventState.SCHEDULED, tx.now)
        await tx.emit(
            "event.scheduled",
            f"event:{event_id}",
            {
                "event_id": event_id,
                "starts_at": event.starts_at.isoformat(),
                "ends_at": event.ends_at.isoformat(),
                "item_ids": item_ids,
            },
        )
    await inventory.items_changed(ctx, item_ids)
    return await event_view(ctx, event_id)


async def cancel_event(ctx: Context, event_id: int) -> EventView:
    """Call off a draft, scheduled or live event; every item's unsold allotment goes back to stock.

    Units held by pending orders are returned too: those orders are cancelled with the sale, and a
    payment that still arrives for one of them is refunded.
    """
    # Sold out (ended) is known only to the stock engine, which is asked before the transaction; state
    # and clock are checked again under the row lock, so a concurrent cancel still loses.
    rules.check_cancellable((await event_view(ctx, event_id)).status)
    async with ctx.transaction() as tx:
        event = await event_or_404(tx.conn, event_id, lock=True)
        items = await sales_repo.items_of(tx.conn, [event_id])
        rules.check_cancellable(rules.status_by_clock(event.state, event.starts_at, event.ends_at, tx.now))
        # Paid units stay allotted (they will ship); everything else goes back. Paid is read from the
        # orders, the truth for every stock engine, under the event lock that settlements share.
        item_ids = [item.id for item in items]
        paid = await sales_repo.paid_units(tx.conn, item_ids)
        returns = [(i.sku_id, i.warehouse_id, i.quantity - paid.get(i.id, 0)) for i in items]
        await stock_repo.release(tx.conn, returns, tx.now)
        await sales_repo.set_state(tx.conn, event_id, EventState.CANCELLED, tx.now)
        await tx.emit(
            "event.cancelled",
            f"event:{event_id}",
            {"event_id": event_id, "item_ids": item_ids, "units_returned": sum(u for *_, u in returns)},
        )
    await inventory.items_changed(ctx, item_ids)
    await order_service.cancel_pending_of_event(ctx, event_id)
    return await event_view(ctx, event_id)


def _clean(values: Mapping[str, Any]) -> dict[str, Any]:
    """Normalise the given fields; only ``banner_url`` and ``preheat_at`` may be None."""
    missing = sorted(name for name in _REQUIRED if name in values and values[name] is None)
    if missing:
        raise InvalidInput(
            f"these fields cannot be null: {', '.join(missing)}",
            code="invalid_field",
            details=[FieldProblem(name, "must not be null") for name in missing],
        )
    return {name: _CLEANERS[name](value) for name, value in values.items()}


def _utc(value: datetime) -> datetime:
    # Naive times pass through untouched so that check_window refuses them with its own message.
    return value.astimezone(UTC) if value.tzinfo is not None else value


_CLEANERS: dict[str, Callable[[Any], Any]] = {
    "title": rules.event_title,
    "channel": rules.channel_name,
    "description": str.strip,
    "banner_url": rules.banner_url,
    "starts_at": _utc,
    "ends_at": _utc,
    "preheat_at": lambda value: None if value is None else _utc(value),
}


def _payload(values: Mapping[str, Any]) -> dict[str, Any]:
    return {name: v.isoformat() if isinstance(v, datetime) else v for name, v in values.items()}
