"""The three-document match of one inventory list, as a pure function.

Customs releases a parcel only when the inventory list agrees with the order, the payment voucher and
the waybill (hence "three documents", besides the list itself). Until all three are on file the list
waits; then every check of :mod:`.checks` runs and the first failing one names the rejection.
"""

from __future__ import annotations

from dataclasses import dataclass

from flashport.sandbox_customs.checks import CHECKS, Case, Limits
from flashport.sandbox_customs.documents import (
    DocumentKind,
    InventoryFacts,
    OrderFacts,
    PaymentFacts,
    WaybillFacts,
)


@dataclass(frozen=True)
class Waiting:
    missing: tuple[DocumentKind, ...]


@dataclass(frozen=True)
class Matched:
    """Every check holds: customs accepts the declaration and releases the parcel."""


@dataclass(frozen=True)
class Rejected:
    reason_code: str  # the first failing check, one of :data:`.reasons.REASON_CODES`
    return_info: str  # "[reason_code] explanation", then any other failing checks

    @property
    def explanation(self) -> str:
        return self.return_info.removeprefix(f"[{self.reason_code}] ")


Verdict = Waiting | Matched | Rejected


def three_document_match(
    inventory: InventoryFacts,
    order: OrderFacts | None,
    payment: PaymentFacts | None,
    waybill: WaybillFacts | None,
    *,
    limits: Limits,
    buyer_year_total_fen: int,
    check_tax: bool = True,
) -> Verdict:
    """Judge ``inventory`` against the documents on file for its order.

    ``buyer_year_total_fen`` is what the order's buyer already had released in the calendar year (China
    time) of the order's appTime; it does not include this order.
    """
    missing = tuple(
        kind
        for kind, document in (
            (DocumentKind.ORDER, order),
            (DocumentKind.PAYMENT, payment),
            (DocumentKind.WAYBILL, waybill),
        )
        if document is None
    )
    if order is None or payment is None or waybill is None:
        return Waiting(missing)
    case = Case(inventory, order, payment, waybill, limits, buyer_year_total_fen, check_tax)
    failures = [(code, explanation) for code, check in CHECKS if (explanation := check(case)) is not None]
    if not failures:
        return Matched()
    (code, explanation), others = failures[0], failures[1:]
    also = "".join(f"; also [{other}] {text}" for other, text in others)
    return Rejected(code, f"[{code}] {explanation}{also}")
