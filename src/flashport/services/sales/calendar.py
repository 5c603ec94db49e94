"""The sale calendar (merchandisers and operators): events by day and channel, the checks shown while an
event or an item is typed (length, price band, free stock, overlaps and brand clashes), and the
calendar's commands, each with its entry in the audit log.

The commands call the event services (services/sales/events.py, items.py), which own their
transactions and write their outbox events, with a context that writes the audit entry inside the
transaction of the change (``Context.audited``): the change, its outbox event and its entry commit
together or not at all. An edit that changes nothing records nothing."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from flashport.adapters.db import calendar_repo, stock_repo
from flashport.domain import calendar as rules
from flashport.domain.errors import DomainError
from flashport.domain.money import format_fen, to_fen
from flashport.domain.sale_entities import EventView
from flashport.domain.sales import EventStatus, check_preheat, check_price_band, check_window
from flashport.services.context import Context
from flashport.services.sales import events, items, queries


@dataclass(frozen=True, slots=True)
class CalendarMonth:
    year: int
    month: int
    days: list[date]
    channels: list[str]
    cells: dict[tuple[date, str], list[rules.Booking]]
    # The days before a sale when buyers already see it (its pre-heat), by day and channel.
    preheats: dict[tuple[date, str], list[rules.Booking]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Checks:
    """What a form shows before it is saved: refusals the save would give, and warnings it would not."""

    problems: dict[str, str] = field(default_factory=dict)  # field -> why the save would be refused
    warnings: list[str] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)  # e.g. the price band's bounds, free units
    # The same in codes, for pages that say them in another language: field -> the refusal's code, and
    # each warning's kind ("channel_overlap", "brand_clash") with the event it meets.
    codes: dict[str, str] = field(default_factory=dict)
    clashes: list[dict[str, Any]] = field(default_factory=list)

    def refuse(self, name: str, exc: DomainError) -> None:
        self.problems[name] = exc.message
        self.codes[name] = exc.code


def _booking(view: EventView) -> rules.Booking:
    return rules.Booking(
        view.id,
        view.title,
        view.channel,
        view.status.value,
        view.starts_at,
        view.ends_at,
        frozenset(item.brand for item in view.items),
        view.preheat_at,
    )


async def bookings(ctx: Context) -> list[rules.Booking]:
    """Every event that is not cancelled, as the calendar places it."""
    return [
        _booking(v) for v in await queries.list_admin_events(ctx) if v.status is not EventStatus.CANCELLED
    ]


async def month(ctx: Context, year: int, month_no: int, channel: str | None = None) -> CalendarMonth:
    days = rules.month_days(year, month_no)
    booked = [b for b in await bookings(ctx) if channel is None or b.channel == channel]
    cells: dict[tuple[date, str], list[rules.Booking]] = {}
    preheats: dict[tuple[date, str], list[rules.Booking]] = {}
    for b in booked:
        for day in days:
            if rules.runs_on(b, day):
                cells.setdefault((day, b.channel), []).append(b)
            if rules.preheats_on(b, day):
                preheats.setdefault((day, b.channel), []).append(b)
    channels = sorted({key[1] for key in (*cells, *preheats)} | ({channel} if channel else set()))
    return CalendarMonth(year, month_no, days, channels, cells, preheats)


async def check_event(
    ctx: Context,
    channel: str,
    starts_at: datetime | None,
    ends_at: datetime | None,
    event_id: int | None = None,
    preheat_at: datetime | None = None,
) -> Checks:
    checks = Checks(facts={"min_days": ctx.policy.min_length.days, "max_days": ctx.policy.max_length.days})
    if starts_at is not None:
        try:
            check_preheat(preheat_at, starts_at)
        except DomainError as exc:
            checks.refuse("preheat_at", exc)
    if starts_at is None or ends_at is None:
        return checks
    try:
        check_window(starts_at, ends_at, ctx.policy)
    except DomainError as exc:
        checks.refuse("ends_at", exc)
    for other in rules.same_channel_overlaps(await bookings(ctx), channel, starts_at, ends_at, event_id):
        checks.warnings.append(f"“{other.title}” (event {other.event_id}) runs on {channel} at the same time")
        checks.clashes.append(
            {"kind": "channel_overlap", "title": other.title, "event_id": other.event_id, "channel": channel}
        )
    return checks


async def check_item(
    ctx: Context, event_id: int, sku_id: int, warehouse_id: int, sale_price: str, quantity: int | None
) -> Checks:
    """The price band of the SKU, the free units in the warehouse, and other events selling its brand
    at the same time (a clash: a brand is booked once)."""
    checks = Checks()
    async with ctx.read() as conn:
        found = await calendar_repo.sku_price_and_brand(conn, sku_id)
        free = await stock_repo.free_units(conn, sku_id, warehouse_id)
    if found is None:
        checks.problems["sku_id"] = f"there is no SKU {sku_id}"
        checks.codes["sku_id"] = "sku_not_found"
        return checks
    original, brand = int(found.original_price_fen), str(found.brand)
    low, high = original * ctx.policy.band_min, original * ctx.policy.band_max
    checks.facts.update(
        original=format_fen(original),
        band_low=format_fen(int(low.to_integral_value(rounding="ROUND_CEILING"))),
        band_high=format_fen(int(high)),
        free=free or 0,
        brand=brand,
    )
    if sale_price:
        try:
            check_price_band(original, to_fen(sale_price, field="the sale price"), ctx.policy)
        except DomainError as exc:
            checks.refuse("sale_price", exc)
    if quantity is not None and quantity > (free or 0):
        checks.problems["quantity"] = f"only {free or 0} units are free in this warehouse; {quantity} asked"
        checks.codes["quantity"] = "insufficient_stock"
    view = await queries.get_admin_event(ctx, event_id)
    for other in rules.brand_clashes(await bookings(ctx), brand, view.starts_at, view.ends_at, event_id):
        checks.warnings.append(f"{brand} is also on sale in “{other.title}” (event {other.event_id}) then")
        checks.clashes.append(
            {"kind": "brand_clash", "title": other.title, "event_id": other.event_id, "brand": brand}
        )
    return checks


# --- the commands, each audited -----------------------------------------------------------------------


async def create_event(ctx: Context, staff_id: int, **fields: Any) -> EventView:
    return await events.create_event(ctx.audited(staff_id, "event.created"), **fields)


async def update_event(ctx: Context, staff_id: int, event_id: int, changes: dict[str, Any]) -> EventView:
    audited = ctx.audited(staff_id, "event.updated", details={"fields": sorted(changes)})
    return await events.update_event(audited, event_id, changes)


async def add_item(
    ctx: Context,
    staff_id: int,
    event_id: int,
    *,
    sku_id: int,
    warehouse_id: int,
    sale_price: Decimal | str,
    quantity: int,
    per_buyer_limit: int,
) -> Any:
    return await items.add_item(
        ctx.audited(staff_id, "sale_item.added"),
        event_id,
        sku_id=sku_id,
        warehouse_id=warehouse_id,
        sale_price=sale_price,
        quantity=quantity,
        per_buyer_limit=per_buyer_limit,
    )


async def schedule_event(ctx: Context, staff_id: int, event_id: int) -> EventView:
    return await events.schedule_event(ctx.audited(staff_id, "event.scheduled"), event_id)


async def cancel_event(ctx: Context, staff_id: int, event_id: int) -> EventView:
    return await events.cancel_event(ctx.audited(staff_id, "event.cancelled"), event_id)
