"""The four documents as the three-document match sees them: only the fields it compares.

Money is integer fen, quantities ``Decimal``; nothing here knows XML (see :mod:`.reading`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from flashport.ceb import ReceiptKind


class DocumentKind(StrEnum):
    ORDER = "CEB311"
    PAYMENT = "CEB411"
    WAYBILL = "CEB511"
    INVENTORY = "CEB621"

    @property
    def receipt_kind(self) -> ReceiptKind:
        return _RECEIPT_KIND[self]


_RECEIPT_KIND = {
    DocumentKind.ORDER: ReceiptKind.ORDER,
    DocumentKind.PAYMENT: ReceiptKind.PAYMENT,
    DocumentKind.WAYBILL: ReceiptKind.WAYBILL,
    DocumentKind.INVENTORY: ReceiptKind.INVENTORY,
}


@dataclass(frozen=True)
class Person:
    """A buyer or payer as declared: real name and ID number."""

    name: str
    id_number: str


@dataclass(frozen=True)
class Addressee:
    """The consignee: on the order and on the waybill, which must agree."""

    name: str
    telephone: str
    address: str


@dataclass(frozen=True)
class Line:
    gnum: int
    item_no: str | None
    qty: Decimal
    price: int
    total_price: int
    # Inventory lines only (None on the order's): what customs classifies and taxes the line by.
    gcode: str | None = None
    qty1: Decimal | None = None  # the quantity in the HS code's legal unit
    unit1: str | None = None


@dataclass(frozen=True)
class OrderFacts:
    order_no: str
    ebp_code: str
    app_time: datetime  # aware, China time
    goods_value: int
    freight: int
    discount: int
    tax_total: int
    actural_paid: int
    buyer: Person
    consignee: Addressee
    lines: tuple[Line, ...]


@dataclass(frozen=True)
class PaymentFacts:
    order_no: str
    ebp_code: str
    payer: Person
    amount_paid: int
    pay_code: str = ""
    pay_transaction_id: str = ""
    pay_time: datetime | None = None  # aware; its year in China time is the year the order counts in


@dataclass(frozen=True)
class WaybillFacts:
    order_no: str
    logistics_code: str
    logistics_no: str
    consignee: Addressee


@dataclass(frozen=True)
class InventoryFacts:
    order_no: str
    ebp_code: str
    logistics_code: str
    logistics_no: str
    buyer: Person
    lines: tuple[Line, ...]
    freight: int = 0
    insured_fee: int = 0
    cop_no: str = ""
    agent_code: str = ""


Facts = OrderFacts | PaymentFacts | WaybillFacts | InventoryFacts
