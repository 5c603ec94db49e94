"""The electronic tax bill (CEB816, 电子税单) and its status (CEB818, 电子税单状态), as the 2022-05
schema defines them: customs sends them to the withholding agent after release.

A CEB816 ``Tax`` is a ``TaxHeadRd`` (invtNo, taxNo, the three taxes, status) and one ``TaxListRd`` per
inventory line (gnum, gcode, taxPrice, the three taxes); a CEB818 ``Tax`` is a ``TaxHeadStatus``
(invtNo, taxNo, status). Neither names the order: the inventory number (invtNo, given on release in
the CEB622) is the link. Neither carries a BaseTransfer: customs addresses them. Building is for the
customs simulator; parsing for the platform.
"""

# Receipts are worded like customs' own, with Chinese full-width punctuation.
# ruff: noqa: RUF002

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from lxml import etree

from flashport.ceb.envelope import add_node, message_root
from flashport.ceb.errors import ReceiptUnreadable
from flashport.ceb.formatting import format_return_time, format_yuan, new_guid, parse_return_time
from flashport.ceb.xml import CEB_NS, ceb, safe_parser, to_bytes

TAX_BILL = "CEB816"
TAX_BILL_STATUS = "CEB818"


class TaxBillStatus(StrEnum):
    """XSD: "税单状态（1-已生成，2-已汇总，3-作废）"."""

    ISSUED = "1"  # 已生成: the bill exists, not yet in a payment summary
    SUMMARISED = "2"  # 已汇总: taken into the period's summary the guarantor pays
    CANCELLED = "3"  # 作废: void (the list was withdrawn or the goods returned)


@dataclass(frozen=True)
class TaxBillLine:
    gnum: int
    gcode: str
    tax_price_fen: int  # 完税总价格: the line's dutiable value
    customs_tax_fen: int
    vat_fen: int
    consumption_tax_fen: int


@dataclass(frozen=True)
class TaxBill:
    guid: str
    return_time: datetime
    invt_no: str
    tax_no: str
    customs_tax_fen: int
    vat_fen: int
    consumption_tax_fen: int
    status: TaxBillStatus
    lines: tuple[TaxBillLine, ...] = ()
    assure_code: str | None = None
    ebc_code: str | None = None
    logistics_code: str | None = None
    agent_code: str | None = None
    customs_code: str | None = None

    @property
    def total_fen(self) -> int:
        return self.customs_tax_fen + self.vat_fen + self.consumption_tax_fen


@dataclass(frozen=True)
class TaxBillState:
    """One ``TaxHeadStatus`` of a CEB818."""

    guid: str
    return_time: datetime
    invt_no: str
    tax_no: str
    status: TaxBillStatus
    assure_code: str | None = None


def _amount(fen: int) -> str:
    return format_yuan(fen)


def tax_bill_message(bills: Sequence[TaxBill], *, guid: str | None = None) -> bytes:
    root = message_root(TAX_BILL, guid or new_guid())
    for bill in bills:
        tax = add_node(root, "Tax")
        add_node(
            tax,
            "TaxHeadRd",
            [
                ("guid", bill.guid),
                ("returnTime", format_return_time(bill.return_time)),
                ("invtNo", bill.invt_no),
                ("taxNo", bill.tax_no),
                ("customsTax", _amount(bill.customs_tax_fen)),
                ("valueAddedTax", _amount(bill.vat_fen)),
                ("consumptionTax", _amount(bill.consumption_tax_fen)),
                ("status", bill.status.value),
                ("assureCode", bill.assure_code),
                ("ebcCode", bill.ebc_code),
                ("logisticsCode", bill.logistics_code),
                ("agentCode", bill.agent_code),
                ("customsCode", bill.customs_code),
            ],
        )
        for line in bill.lines:
            add_node(
                tax,
                "TaxListRd",
                [
                    ("gnum", str(line.gnum)),
                    ("gcode", line.gcode),
                    ("taxPrice", _amount(line.tax_price_fen)),
                    ("customsTax", _amount(line.customs_tax_fen)),
                    ("valueAddedTax", _amount(line.vat_fen)),
                    ("consumptionTax", _amount(line.consumption_tax_fen)),
                ],
            )
    return to_bytes(root)


def tax_status_message(states: Sequence[TaxBillState], *, guid: str | None = None) -> bytes:
    root = message_root(TAX_BILL_STATUS, guid or new_guid())
    for state in states:
        tax = add_node(root, "Tax")
        add_node(
            tax,
            "TaxHeadStatus",
            [
                ("guid", state.guid),
                ("returnTime", format_return_time(state.return_time)),
                ("invtNo", state.invt_no),
                ("taxNo", state.tax_no),
                ("status", state.status.value),
                ("assureCode", state.assure_code),
            ],
        )
    return to_bytes(root)


def _root(message: bytes, kind: str) -> Any:
    try:
        root = etree.fromstring(message, parser=safe_parser())
    except etree.XMLSyntaxError as exc:
        raise ReceiptUnreadable(f"not well-formed XML: {exc}") from exc
    if root.tag != f"{{{CEB_NS}}}{kind}Message":
        raise ReceiptUnreadable(f"not a {kind} message: root element {root.tag}")
    return root


class _Node:
    def __init__(self, node: Any, name: str) -> None:
        self._node, self._name = node, name

    def text(self, name: str) -> str | None:
        found = self._node.find(ceb(name))
        return None if found is None else (found.text or "").strip() or None

    def required(self, name: str) -> str:
        value = self.text(name)
        if value is None:
            raise ReceiptUnreadable(f"{self._name} without {name}")
        return value

    def fen(self, name: str) -> int:
        try:
            return _fen(self.required(name))
        except ValueError as exc:
            raise ReceiptUnreadable(f"{self._name} {name}: {exc}") from exc

    def moment(self) -> datetime:
        try:
            return parse_return_time(self.required("returnTime"))
        except ValueError as exc:
            raise ReceiptUnreadable(f"{self._name}: {exc}") from exc

    def status(self) -> TaxBillStatus:
        try:
            return TaxBillStatus(self.required("status"))
        except ValueError as exc:
            raise ReceiptUnreadable(f"{self._name}: unknown status") from exc


def _fen(text: str) -> int:
    try:
        amount = Decimal(text) * 100
    except InvalidOperation as exc:
        raise ValueError(f"{text!r} is not an amount") from exc
    if amount != amount.to_integral_value():
        raise ValueError(f"{text!r} has fractions of a fen")
    return int(amount)


def parse_tax_bills(message: bytes) -> list[TaxBill]:
    """Every ``Tax`` of a CEB816. Raises :class:`ReceiptUnreadable`."""
    bills = []
    for tax in _root(message, TAX_BILL).findall(ceb("Tax")):
        head = _Node(tax.find(ceb("TaxHeadRd")), "TaxHeadRd")
        lines = tuple(
            TaxBillLine(
                gnum=int(line.required("gnum")),
                gcode=line.required("gcode"),
                tax_price_fen=line.fen("taxPrice"),
                customs_tax_fen=line.fen("customsTax"),
                vat_fen=line.fen("valueAddedTax"),
                consumption_tax_fen=line.fen("consumptionTax"),
            )
            for line in (_Node(node, "TaxListRd") for node in tax.findall(ceb("TaxListRd")))
        )
        bills.append(
            TaxBill(
                guid=head.required("guid"),
                return_time=head.moment(),
                invt_no=head.required("invtNo"),
                tax_no=head.required("taxNo"),
                customs_tax_fen=head.fen("customsTax"),
                vat_fen=head.fen("valueAddedTax"),
                consumption_tax_fen=head.fen("consumptionTax"),
                status=head.status(),
                lines=lines,
                assure_code=head.text("assureCode"),
                ebc_code=head.text("ebcCode"),
                logistics_code=head.text("logisticsCode"),
                agent_code=head.text("agentCode"),
                customs_code=head.text("customsCode"),
            )
        )
    if not bills:
        raise ReceiptUnreadable("CEB816 message without Tax")
    return bills


def parse_tax_states(message: bytes) -> list[TaxBillState]:
    """Every ``Tax`` of a CEB818. Raises :class:`ReceiptUnreadable`."""
    states = []
    for tax in _root(message, TAX_BILL_STATUS).findall(ceb("Tax")):
        head = _Node(tax.find(ceb("TaxHeadStatus")), "TaxHeadStatus")
        states.append(
            TaxBillState(
                guid=head.required("guid"),
                return_time=head.moment(),
                invt_no=head.required("invtNo"),
                tax_no=head.required("taxNo"),
                status=head.status(),
                assure_code=head.text("assureCode"),
            )
        )
    if not states:
        raise ReceiptUnreadable("CEB818 message without Tax")
    return states
