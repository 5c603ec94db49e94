"""Flash-sale events and sale items: the sale window, the price band, and the derived status.

An event stores only what people decide (``draft``, ``scheduled``, ``cancelled``); ``live`` and
``ended`` follow from the clock and from every item being sold out, so they can never be stale.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from flashport.domain.catalog import WarehouseKind
from flashport.domain.errors import Conflict, FieldProblem, InvalidInput
from flashport.domain.text import is_safe_url

CHANNEL = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
MAX_ITEM_QUANTITY = 10_000_000  # far above any real allotment, well inside a 32-bit column


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


class Listing(enum.StrEnum):
    """What buyers may list: sales on now, or announced sales yet to start."""

    LIVE = "live"
    UPCOMING = "upcoming"

    @property
    def status(self) -> EventStatus:
        return EventStatus.LIVE if self is Listing.LIVE else EventStatus.SCHEDULED


class Fulfilment(enum.StrEnum):
    """How a sold unit reaches the buyer, decided by the warehouse it is allotted from."""

    BONDED = "bonded"  # bonded import: shipped from a bonded zone in China
    DIRECT = "direct"  # direct purchase import: one parcel from abroad per order


@dataclass(frozen=True)
class SalePolicy:
    min_length: timedelta
    max_length: timedelta
    band_min: Decimal
    band_max: Decimal


EARLIEST_YEAR, LATEST_YEAR = 2020, 2100  # an event outside these is a typo (0001, 9999), never a sale


def check_window(starts_at: datetime, ends_at: datetime, policy: SalePolicy) -> None:
    """Rule 4: an event lasts between the policy's minimum and maximum length."""
    if starts_at.tzinfo is None or ends_at.tzinfo is None:
        raise InvalidInput("times must carry a time zone", code="naive_datetime")
    for name, moment in (("starts_at", starts_at), ("ends_at", ends_at)):
        if not EARLIEST_YEAR <= moment.year <= LATEST_YEAR:
            raise InvalidInput(
                f"{name} must fall between the years {EARLIEST_YEAR} and {LATEST_YEAR}",
                code="invalid_window",
                details=[FieldProblem(name, f"a date from {EARLIEST_YEAR} to {LATEST_YEAR}")],
            )
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
            facts={"min_days": _days(policy.min_length), "max_days": _days(policy.max_length)},
        )


def check_preheat(preheat_at: datetime | None, starts_at: datetime) -> None:
    """The pre-heat, when buyers first see an announced sale (items, prices, a countdown, no buy
    button), comes before the start; None means no pre-heat of its own (shown once scheduled)."""
    if preheat_at is None:
        return
    if preheat_at.tzinfo is None:
        raise InvalidInput("times must carry a time zone", code="naive_datetime")
    if not EARLIEST_YEAR <= preheat_at.year <= LATEST_YEAR:
        raise InvalidInput(
            f"preheat_at must fall between the years {EARLIEST_YEAR} and {LATEST_YEAR}",
            code="invalid_preheat",
            details=[FieldProblem("preheat_at", f"a date from {EARLIEST_YEAR} to {LATEST_YEAR}")],
        )
    if preheat_at >= starts_at:
        raise InvalidInput(
            "the pre-heat must come before the start: buyers see the sale from the pre-heat until it opens",
            code="preheat_not_before_start",
            details=[FieldProblem("preheat_at", "must be before starts_at")],
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
            facts={"band_low": f"{low / 100:.2f}", "band_high": f"{high / 100:.2f}"},
        )


def derive_status(
    state: EventState, starts_at: datetime, ends_at: datetime, now: datetime, all_sold_out: bool
) -> EventStatus:
    """Live from ``starts_at`` (included) until ``ends_at`` (excluded) or until every item is gone."""
    if state is EventState.CANCELLED:
        return EventStatus.CANCELLED
    if state is EventState.DRAFT:
        return EventStatus.DRAFT
    if now < starts_at:
        return EventStatus.SCHEDULED
    if now >= ends_at or all_sold_out:
        return EventStatus.ENDED
    return EventStatus.LIVE


def status_by_clock(state: EventState, starts_at: datetime, ends_at: datetime, now: datetime) -> EventStatus:
    """The status that state and clock alone give, for decisions being sold out cannot change.

    Nothing sells before the start, so a draft or not-yet-started event is the same with or without
    stock counts, and a started one is frozen either way (live or ended): enough for
    :func:`check_editable`, not for :func:`check_cancellable`.
    """
    return derive_status(state, starts_at, ends_at, now, all_sold_out=False)


def stored_state(status: EventStatus) -> EventState:
    """The stored state behind a derived status: live and ended events are stored as scheduled."""
    if status in (EventStatus.DRAFT, EventStatus.CANCELLED):
        return EventState(status.value)
    return EventState.SCHEDULED


def is_public(state: EventState) -> bool:
    """Buyers see announced events (upcoming, live, ended); drafts and cancelled ones are hidden."""
    return state is EventState.SCHEDULED


def shown_to_buyers(state: EventState, preheat_at: datetime | None, now: datetime) -> bool:
    """An announced event is shown from its pre-heat on (from the moment it is scheduled when it has
    none); before the pre-heat it is hidden as a draft is."""
    return is_public(state) and (preheat_at is None or preheat_at <= now)


def check_editable(status: EventStatus) -> None:
    """Items and times can change before the sale starts; a live or finished sale is frozen."""
    if status not in (EventStatus.DRAFT, EventStatus.SCHEDULED):
        raise Conflict(
            f"a {status.value} event can no longer be changed",
            code="event_not_editable",
            facts={"state": status.value},
        )


def check_schedulable(state: EventState, starts_at: datetime, now: datetime, item_count: int) -> None:
    if state is not EventState.DRAFT:
        raise Conflict(
            f"only a draft event can be scheduled (this one is {state.value})",
            code="bad_state",
            facts={"state": state.value, "action": "schedule"},
        )
    if item_count == 0:
        raise Conflict("an event needs at least one item before it is scheduled", code="event_has_no_items")
    if starts_at <= now:
        raise Conflict("starts_at is in the past; move it before scheduling", code="start_in_past")


def check_cancellable(status: EventStatus) -> None:
    if status in (EventStatus.CANCELLED, EventStatus.ENDED):
        raise Conflict(
            f"a {status.value} event cannot be cancelled",
            code="bad_state",
            facts={"state": status.value, "action": "cancel"},
        )


def check_start_change(state: EventState, starts_at: datetime, now: datetime) -> None:
    """A scheduled event may be moved, but not into the past: that would open the sale unannounced."""
    if state is EventState.SCHEDULED and starts_at <= now:
        raise Conflict("a scheduled event cannot start in the past", code="start_in_past")


def event_title(value: str) -> str:
    title = value.strip()
    if not title or len(title) > 200:
        raise InvalidInput(
            "title must have 1 to 200 characters",
            code="invalid_title",
            details=[FieldProblem("title", "1 to 200 characters")],
        )
    return title


def channel_name(value: str) -> str:
    """Channels are slugs such as ``global-flash-sale``; case and surrounding blanks are forgiven."""
    channel = value.strip().lower()
    if len(channel) > 64 or not CHANNEL.match(channel):
        raise InvalidInput(
            "channel must be a slug of lowercase letters, digits and dashes",
            code="invalid_channel",
            details=[FieldProblem("channel", "e.g. global-flash-sale, at most 64 characters")],
        )
    return channel


def banner_url(value: str | None) -> str | None:
    if value is None:
        return None
    url = value.strip()
    if len(url) > 500 or not is_safe_url(url):
        raise InvalidInput(
            "banner_url must be an https URL or a path on this site, of at most 500 characters",
            code="invalid_banner_url",
            details=[FieldProblem("banner_url", "an https URL or a site path")],
        )
    return url


def check_item_terms(quantity: int, per_buyer_limit: int) -> None:
    """An item offers at least one unit, and no buyer may take more than the whole allotment."""
    if not 0 < quantity <= MAX_ITEM_QUANTITY:
        raise InvalidInput(
            f"quantity must be between 1 and {MAX_ITEM_QUANTITY}",
            code="invalid_quantity",
            details=[FieldProblem("quantity", "a positive whole number")],
            facts={"max": MAX_ITEM_QUANTITY},
        )
    if not 0 < per_buyer_limit <= quantity:
        raise InvalidInput(
            "per_buyer_limit must be between 1 and the quantity",
            code="invalid_per_buyer_limit",
            details=[FieldProblem("per_buyer_limit", f"between 1 and {quantity}")],
            facts={"max": quantity},
        )


def check_quantity_covers(quantity: int, committed: int) -> None:
    """Rule 1: the allotment never drops below the units already reserved or sold."""
    if quantity < committed:
        raise Conflict(
            f"{committed} units are already reserved or sold; quantity cannot go below that",
            code="quantity_below_committed",
            facts={"committed": committed},
        )


def check_item_removable(state: EventState, item_count: int, committed: int) -> None:
    if committed > 0:
        raise Conflict("units of this item are reserved or sold; it cannot be removed", code="item_in_use")
    if state is EventState.SCHEDULED and item_count <= 1:
        raise Conflict(
            "a scheduled event keeps at least one item; cancel the event instead",
            code="event_has_no_items",
        )


def discount_percent(original_fen: int, sale_fen: int) -> int:
    """Percent off the original price, rounded down so that an advertised discount is never overstated."""
    return (original_fen - sale_fen) * 100 // original_fen


def all_sold_out(remaining: Collection[int]) -> bool:
    """True when the event has items and none has a unit left. An event without items is not sold out."""
    return bool(remaining) and all(units == 0 for units in remaining)


def fulfilment_for(kind: WarehouseKind) -> Fulfilment:
    return Fulfilment.BONDED if kind is WarehouseKind.BONDED else Fulfilment.DIRECT


def _days(length: timedelta) -> str:
    return f"{length.total_seconds() / 86400:g}"
