"""Readers from the text of a head and its lines to the facts of each document kind.

A missing or malformed field raises ``ValueError`` (``InvalidOperation`` for a bad number), which
:func:`flashport.sandbox_customs.reading.read_facts` reports as an unreadable document.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal

from flashport.ceb.formatting import CHINA_STANDARD_TIME
from flashport.sandbox_customs.documents import (
    Addressee,
    DocumentKind,
    Facts,
    InventoryFacts,
    Line,
    OrderFacts,
    PaymentFacts,
    Person,
    WaybillFacts,
)


class Fields:
    """The text of one head's or line's children, by element name."""

    def __init__(self, values: Mapping[str, str]) -> None:
        self._values = values

    def __getitem__(self, name: str) -> str:
        value = self._values.get(name)
        if not value:
            raise ValueError(f"{name} is missing")
        return value

    def optional(self, name: str) -> str | None:
        return self._values.get(name) or None

    def fen(self, name: str) -> int:
        """A two-decimal yuan amount as integer fen: ``"129.00"`` -> 12900 (Decimal, never float)."""
        amount = Decimal(self[name]) * 100
        if not amount.is_finite() or amount != amount.to_integral_value():
            raise ValueError(f"{name} {self[name]!r} is not a yuan amount with at most two decimals")
        return int(amount)

    def china_time(self, name: str) -> datetime:
        """``YYYYMMDDhhmmss`` in China Standard Time, as an aware datetime."""
        return datetime.strptime(self[name], "%Y%m%d%H%M%S").replace(tzinfo=CHINA_STANDARD_TIME)


def _person(fields: Fields, prefix: str) -> Person:
    return Person(fields[f"{prefix}Name"], fields[f"{prefix}IdNumber"])


def _consignee(fields: Fields) -> Addressee:
    return Addressee(fields["consignee"], fields["consigneeTelephone"], fields["consigneeAddress"])


def _line(fields: Fields) -> Line:
    return Line(
        gnum=int(fields["gnum"]),
        item_no=fields.optional("itemNo"),
        qty=Decimal(fields["qty"]),
        price=fields.fen("price"),
        total_price=fields.fen("totalPrice"),
        gcode=fields.optional("gcode"),
        qty1=Decimal(qty1) if (qty1 := fields.optional("qty1")) else None,
        unit1=fields.optional("unit1"),
    )


def _order(head: Fields, lines: Sequence[Fields]) -> OrderFacts:
    return OrderFacts(
        order_no=head["orderNo"],
        ebp_code=head["ebpCode"],
        app_time=head.china_time("appTime"),
        goods_value=head.fen("goodsValue"),
        freight=head.fen("freight"),
        discount=head.fen("discount"),
        tax_total=head.fen("taxTotal"),
        actural_paid=head.fen("acturalPaid"),
        buyer=_person(head, "buyer"),
        consignee=_consignee(head),
        lines=tuple(_line(line) for line in lines),
    )


def _payment(head: Fields, _lines: Sequence[Fields]) -> PaymentFacts:
    return PaymentFacts(
        head["orderNo"],
        head["ebpCode"],
        _person(head, "payer"),
        head.fen("amountPaid"),
        pay_code=head["payCode"],
        pay_transaction_id=head["payTransactionId"],
        pay_time=head.china_time("payTime"),
    )


def _waybill(head: Fields, _lines: Sequence[Fields]) -> WaybillFacts:
    return WaybillFacts(head["orderNo"], head["logisticsCode"], head["logisticsNo"], _consignee(head))


def _inventory(head: Fields, lines: Sequence[Fields]) -> InventoryFacts:
    return InventoryFacts(
        order_no=head["orderNo"],
        ebp_code=head["ebpCode"],
        logistics_code=head["logisticsCode"],
        logistics_no=head["logisticsNo"],
        buyer=_person(head, "buyer"),
        lines=tuple(_line(line) for line in lines),
        freight=head.fen("freight"),
        insured_fee=head.fen("insuredFee") if head.optional("insuredFee") else 0,
        cop_no=head.optional("copNo") or "",
        agent_code=head.optional("agentCode") or "",
    )


FACT_READERS: Mapping[DocumentKind, Callable[[Fields, Sequence[Fields]], Facts]] = {
    DocumentKind.ORDER: _order,
    DocumentKind.PAYMENT: _payment,
    DocumentKind.WAYBILL: _waybill,
    DocumentKind.INVENTORY: _inventory,
}
