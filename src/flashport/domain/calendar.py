"""The sale calendar's rules: which days of a month an event runs on (China time, as the team plans),
which events overlap, and what to warn about before an event or an item is saved. Pure."""

from __future__ import annotations

import calendar as stdlib_calendar
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

CHINA = ZoneInfo("Asia/Shanghai")


@dataclass(frozen=True, slots=True)
class Booking:
    """An event as the calendar places it."""

    event_id: int
    title: str
    channel: str
    status: str
    starts_at: datetime
    ends_at: datetime
    brands: frozenset[str] = frozenset()
    preheat_at: datetime | None = None  # buyers see the sale from then until it starts


def month_days(year: int, month: int) -> list[date]:
    return [date(year, month, day) for day in range(1, stdlib_calendar.monthrange(year, month)[1] + 1)]


def runs_on(booking: Booking, day: date) -> bool:
    """Whether any of ``day`` (China time) falls inside the event's window."""
    start = datetime.combine(day, time(), CHINA)
    return overlaps(booking.starts_at, booking.ends_at, start, start + timedelta(days=1))


def preheats_on(booking: Booking, day: date) -> bool:
    """Whether any of ``day`` (China time) falls in the pre-heat: from ``preheat_at`` to the start."""
    if booking.preheat_at is None:
        return False
    start = datetime.combine(day, time(), CHINA)
    return overlaps(booking.preheat_at, booking.starts_at, start, start + timedelta(days=1))


def overlaps(a_start: datetime, a_end: datetime, b_start: datetime, b_end: datetime) -> bool:
    """Half-open windows [start, end) share an instant."""
    return a_start < b_end and b_start < a_end


def same_channel_overlaps(
    bookings: list[Booking], channel: str, starts_at: datetime, ends_at: datetime, exclude: int | None = None
) -> list[Booking]:
    """Events of the same channel running at the same time (cancelled ones excluded by the caller)."""
    return [
        b
        for b in bookings
        if b.event_id != exclude
        and b.channel == channel
        and overlaps(b.starts_at, b.ends_at, starts_at, ends_at)
    ]


def brand_clashes(
    bookings: list[Booking], brand: str, starts_at: datetime, ends_at: datetime, exclude: int | None = None
) -> list[Booking]:
    """Other events selling the same brand at the same time, on any channel: a brand is booked once."""
    return [
        b
        for b in bookings
        if b.event_id != exclude
        and brand in b.brands
        and overlaps(b.starts_at, b.ends_at, starts_at, ends_at)
    ]
