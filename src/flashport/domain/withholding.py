"""The platform as withholding agent (代收代缴义务人): it collects the cross-border tax from the buyer
at checkout and owes customs what customs bills (the electronic tax bill, CEB816). Reconciling the two
is pure arithmetic over what was collected and what was billed, per order and per month.

A bill is counted in the month (China time) customs issued it. A cancelled bill (status 3) is owed
nothing. What is owed is what customs billed, not what was collected: a difference is the platform's
to explain (to the buyer or to customs), so every one is listed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from enum import StrEnum

CHINA = timezone(timedelta(hours=8), "CST")


class BillStatus(StrEnum):
    ISSUED = "1"
    SUMMARISED = "2"
    CANCELLED = "3"


class Reconciliation(StrEnum):
    MATCHED = "matched"  # billed = collected
    UNDER_COLLECTED = "under_collected"  # customs billed more than the buyer paid: the platform pays it
    OVER_COLLECTED = "over_collected"  # the buyer paid more than customs billed: owed back to the buyer
    UNLINKED = "unlinked"  # no released declaration of ours carries the bill's inventory number


@dataclass(frozen=True)
class TaxBillRecord:
    """One tax bill as kept, with the order it taxes and the tax that order collected, when linked."""

    tax_no: str
    invt_no: str
    status: BillStatus
    billed_fen: int
    order_no: str | None
    collected_fen: int | None
    issued_at: datetime


@dataclass(frozen=True)
class OrderTax:
    """An order's tax: what its buyer paid against every bill customs issued for it (a supplementary
    bill adds to the first; a cancelled one counts nothing)."""

    order_no: str | None  # None: bills no declaration of ours carries (one entry per inventory number)
    invt_no: str
    collected_fen: int | None
    bills: tuple[TaxBillRecord, ...]

    @property
    def billed_fen(self) -> int:
        return sum(b.billed_fen for b in self.bills if b.status is not BillStatus.CANCELLED)

    @property
    def difference_fen(self) -> int:
        """Billed minus collected (positive: the platform owes more than it collected)."""
        return self.billed_fen - (self.collected_fen or 0)

    @property
    def reconciliation(self) -> Reconciliation:
        if self.collected_fen is None:
            return Reconciliation.UNLINKED
        if self.difference_fen == 0:
            return Reconciliation.MATCHED
        return Reconciliation.UNDER_COLLECTED if self.difference_fen > 0 else Reconciliation.OVER_COLLECTED


def by_order(bills: Sequence[TaxBillRecord]) -> list[OrderTax]:
    """The bills gathered per order (per inventory number while unlinked), in order of first issue."""
    grouped: dict[tuple[str | None, str], list[TaxBillRecord]] = {}
    for bill in sorted(bills, key=lambda b: (b.issued_at, b.tax_no)):
        key = (bill.order_no, bill.invt_no if bill.order_no is None else "")
        grouped.setdefault(key, []).append(bill)
    return [
        OrderTax(found[0].order_no, found[0].invt_no, found[0].collected_fen, tuple(found))
        for found in grouped.values()
    ]


@dataclass(frozen=True)
class PeriodLedger:
    period: str  # YYYY-MM, China time
    orders: tuple[OrderTax, ...]

    @property
    def bills(self) -> int:
        return sum(1 for o in self.orders for b in o.bills if b.status is not BillStatus.CANCELLED)

    @property
    def billed_fen(self) -> int:
        """What the platform owes customs for the month."""
        return sum(o.billed_fen for o in self.orders)

    @property
    def collected_fen(self) -> int:
        return sum(o.collected_fen or 0 for o in self.orders)

    @property
    def summarised_fen(self) -> int:
        """The part customs has already gathered into its payment summary (status 2)."""
        return sum(b.billed_fen for o in self.orders for b in o.bills if b.status is BillStatus.SUMMARISED)

    @property
    def mismatches(self) -> tuple[OrderTax, ...]:
        return tuple(o for o in self.orders if o.reconciliation is not Reconciliation.MATCHED)


def period_of(moment: datetime) -> str:
    """The month a bill counts in: its issue time in China."""
    return moment.astimezone(CHINA).strftime("%Y-%m")


def ledger(period: str, bills: Sequence[TaxBillRecord]) -> PeriodLedger:
    """The month's ledger. An order's bills are reconciled together, so a month holding part of an
    order's bills (a supplementary bill issued the month after) compares them with all it collected."""
    return PeriodLedger(period, tuple(by_order(bills)))
