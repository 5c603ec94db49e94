"""A parcel's journey after payment, as milestones the buyer follows on the order page.

    declared ─▶ released ─▶ picked ─▶ handed_over ─▶ in_transit ─▶ delivered

The platform records the first four itself (customs took the documents, customs released the parcel,
the warehouse took the released parcel for packing, the parcel went to the carrier); the carrier
reports the others (and may report ``handed_over`` too, when it scans the parcel in). Each milestone
happens once per shipment: a second report of one is no change. Reports may arrive out of order (a
carrier's scans are not sequenced with customs' receipts), so the timeline is shown in the journey's
order, each with the time it happened.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from flashport.domain.errors import InvalidInput


class Milestone(enum.StrEnum):
    DECLARED = "declared"
    RELEASED = "released"
    PICKED = "picked"
    HANDED_OVER = "handed_over"
    IN_TRANSIT = "in_transit"
    DELIVERED = "delivered"


JOURNEY: tuple[Milestone, ...] = tuple(Milestone)

# What a carrier may report; declaring and releasing are customs' business, picking the warehouse's.
CARRIER_REPORTS = frozenset({Milestone.HANDED_OVER, Milestone.IN_TRANSIT, Milestone.DELIVERED})


@dataclass(frozen=True, slots=True)
class MilestoneReached:
    milestone: Milestone
    at: datetime


def carrier_milestone(value: str) -> Milestone:
    """The milestone a carrier reported, or a clear refusal naming the ones it may report."""
    allowed = ", ".join(m.value for m in JOURNEY if m in CARRIER_REPORTS)
    try:
        milestone = Milestone(value)
    except ValueError:
        raise InvalidInput(
            f"unknown milestone {value!r}; a carrier reports {allowed}", code="unknown_milestone"
        ) from None
    if milestone not in CARRIER_REPORTS:
        raise InvalidInput(
            f"{milestone.value} is not the carrier's to report; a carrier reports {allowed}",
            code="not_a_carrier_milestone",
        )
    return milestone


def in_journey_order(reached: list[MilestoneReached]) -> list[MilestoneReached]:
    return sorted(reached, key=lambda r: JOURNEY.index(r.milestone))


def check_reported_time(at: datetime, now: datetime, *, tolerance_seconds: int = 300) -> datetime:
    """A carrier's time must be aware and not in the future (beyond clock skew): a timeline that
    shows tomorrow's delivery misleads the buyer."""
    if at.tzinfo is None:
        raise InvalidInput("'at' needs a time zone (e.g. 2026-12-03T10:00:00Z)", code="naive_time")
    if (at - now).total_seconds() > tolerance_seconds:
        raise InvalidInput("'at' is in the future", code="time_in_future")
    return at
