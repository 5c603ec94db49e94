"""The live sale board's arithmetic: rates, time to sell out and payment conversion from counts taken at
moments (pure; the service keeps the samples).

Units, not orders, are what the stock engine counts, so the rates are in units a second; the board also
shows the average units per order of the orders already decided (paid or closed), which is 1 in a sale
with a one-unit limit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Sample:
    """One item's counts at one moment (``at`` in seconds on a monotonic clock)."""

    at: float
    taken: int  # units held by pending or paid orders (the stock engine's quantity - remaining)
    closed_units: int  # units of orders closed unpaid so far (their units went back to the sale)

    @property
    def placed(self) -> int:
        """Units ever bought: those held now plus those given back. It never goes down."""
        return self.taken + self.closed_units


def _span(samples: Sequence[Sample], window: float) -> tuple[Sample, Sample] | None:
    """The oldest sample within ``window`` seconds of the newest, and the newest; None under two."""
    if len(samples) < 2:
        return None
    newest = samples[-1]
    oldest = next((s for s in samples if newest.at - s.at <= window), newest)
    if oldest is newest:
        oldest = samples[-2]
    return (oldest, newest) if newest.at > oldest.at else None


def units_per_second(samples: Sequence[Sample], window: float = 10.0) -> float:
    """Units bought a second over the last ``window`` seconds (0 with fewer than two samples)."""
    span = _span(samples, window)
    if span is None:
        return 0.0
    oldest, newest = span
    return max(newest.placed - oldest.placed, 0) / (newest.at - oldest.at)


def net_take_rate(samples: Sequence[Sample], window: float = 10.0) -> float:
    """Units leaving the sale a second, net of units coming back from closed orders."""
    span = _span(samples, window)
    if span is None:
        return 0.0
    oldest, newest = span
    return (newest.taken - oldest.taken) / (newest.at - oldest.at)


def seconds_to_sell_out(left: int, rate: float) -> float | None:
    """At ``rate`` units a second, when the last of ``left`` units goes: 0 when none are left, None when
    the sale is not going down (no sales, or units coming back faster than they go)."""
    if left <= 0:
        return 0.0
    if rate <= 0:
        return None
    return left / rate


def conversion(paid_orders: int, closed_orders: int) -> float | None:
    """The share of decided orders that were paid: paid / (paid + closed unpaid); None before any."""
    decided = paid_orders + closed_orders
    return None if decided == 0 else paid_orders / decided
