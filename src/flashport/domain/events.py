"""Flash-sale events and sale items: the sale window, the price band, and the derived status.

An event stores only what people decide (``draft``, ``scheduled``, ``cancelled``); ``live`` and
``ended`` follow from the clock and from every item being sold out, so they can never be stale.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from flashport.domain.errors import Conflict, FieldProblem, InvalidInput


class EventState(enum.StrEnum):
    """What is stored."""

    DRAFT = "draft"
    SCHEDULED = "scheduled"
    CANCELLED = "cancelled"


class EventStatus(enum.StrEnum):
    """What the world sees."""

    DRAFT = "draft"
    SCHEDULED = "scheduled"
    LIVE = "live"
    ENDED = "ended"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class SalePolicy:
    min_length: timedelta
    max_length: timedelta
    band_min: Decimal
    band_max: Decimal


def check_window(starts_at: datetime, ends_at: datetime, policy: SalePolicy) -> None:
    """Rule 4: an event lasts between the policy's minimum and maximum length."""
    if starts_at.tzinfo is None or ends_at.tzinfo is None:
        raise InvalidInput("times must carry a time zone", code="naive_datetime")
    length = ends_at - starts_at
    if length <= timedelta(0):
        raise InvalidInput(
            "ends_at must be after starts_at",
            code="invalid_window",
            details=[FieldProblem("ends_at", "must be after starts_at")],
        )
    if length < policy.min_length or length > policy.max_length:
        raise InvalidInput(
            f"an event lasts between {_days(policy.min_length)} and {_days(policy.max_length)} days; "
            f"this one lasts {_days(length)}",
            code="event_length_out_of_policy",
            details=[FieldProblem("ends_at", "event length out of policy")],
        )


def check_price_band(original_fen: int, sale_fen: int, policy: SalePolicy) -> None:
    """Rule 3: the sale price lies within [band_min, band_max] x original price, both ends included."""
    low = original_fen * policy.band_min
    high = original_fen * policy.band_max
    if not (low <= sale_fen <= high):
        raise InvalidInput(
            f"sale price must be between {policy.band_min:.0%} and {policy.band_max:.0%} of the original "
            "price",
            code="price_out_of_band",
            details=[FieldProblem("sale_price", f"allowed range {low / 100:.2f} to {high / 100:.2f} CNY")],
        )


def derive_status(
    state: EventState, starts_at: datetime, ends_at: datetime, now: datetime, all_sold_out: bool
) -> EventStatus:
    if state is EventState.CANCELLED:
        return EventStatus.CANCELLED
    if state is EventState.DRAFT:
        return EventStatus.DRAFT
    if now < starts_at:
        return EventStatus.SCHEDULED
    if now >= ends_at or all_sold_out:
        return EventStatus.ENDED
    return EventStatus.LIVE


def check_editable(status: EventStatus) -> None:
    """Items and times can change before the sale starts; a live or finished sale is frozen."""
    if status not in (EventStatus.DRAFT, EventStatus.SCHEDULED):
        raise Conflict(f"a {status.value} event can no longer be changed", code="event_not_editable")


def check_schedulable(state: EventState, starts_at: datetime, now: datetime, item_count: int) -> None:
    if state is not EventState.DRAFT:
        raise Conflict(f"only a draft event can be scheduled (this one is {state.value})", code="bad_state")
    if item_count == 0:
        raise Conflict("an event needs at least one item before it is scheduled", code="event_has_no_items")
    if starts_at <= now:
        raise Conflict("starts_at is in the past; move it before scheduling", code="start_in_past")


def check_cancellable(status: EventStatus) -> None:
    if status in (EventStatus.CANCELLED, EventStatus.ENDED):
        raise Conflict(f"a {status.value} event cannot be cancelled", code="bad_state")


def _days(length: timedelta) -> str:
    return f"{length.total_seconds() / 86400:g}"
