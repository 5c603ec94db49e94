"""Receipts customs sends back: CEB312 (order), CEB412 (payment), CEB512 (waybill), CEB622 (inventory).

Parsing is for the platform; building is for the customs simulator. A receipt message carries up to
100 return nodes; each names the document it answers by that document's business keys.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from lxml import etree

from flashport.ceb.envelope import add_node, message_root
from flashport.ceb.errors import ReceiptUnreadable
from flashport.ceb.formatting import format_return_time, new_guid, parse_return_time
from flashport.ceb.xml import CEB_NS, ceb, safe_parser, to_bytes


class ReceiptKind(StrEnum):
    ORDER = "CEB312"
    PAYMENT = "CEB412"
    WAYBILL = "CEB512"
    INVENTORY = "CEB622"
    DELIVERY = "CEB514"  # on a CEB513, the carrier's "signed for"
    CANCELLATION = "CEB624"  # on a CEB623, an accepted inventory list withdrawn
    RETURN = "CEB626"  # on a CEB625, released goods returned


# The return node of each kind and its business keys, in the XSD's order.
_RETURN_NODE = {
    ReceiptKind.ORDER: "OrderReturn",
    ReceiptKind.PAYMENT: "PaymentReturn",
    ReceiptKind.WAYBILL: "LogisticsReturn",
    ReceiptKind.INVENTORY: "InventoryReturn",
    ReceiptKind.DELIVERY: "LogisticsStatusReturn",
    ReceiptKind.CANCELLATION: "InvtCancelReturn",
    ReceiptKind.RETURN: "InvtRefundReturn",
}
BUSINESS_KEYS: Mapping[ReceiptKind, tuple[str, ...]] = {
    ReceiptKind.ORDER: ("ebpCode", "ebcCode", "orderNo"),
    ReceiptKind.PAYMENT: ("payCode", "payTransactionId"),
    ReceiptKind.WAYBILL: ("logisticsCode", "logisticsNo"),
    ReceiptKind.INVENTORY: ("customsCode", "ebpCode", "ebcCode", "agentCode", "copNo", "preNo", "invtNo"),
    ReceiptKind.DELIVERY: ("logisticsCode", "logisticsNo", "logisticsStatus"),
    ReceiptKind.CANCELLATION: ("customsCode", "agentCode", "ebpCode", "ebcCode", "copNo", "preNo", "invtNo"),
    ReceiptKind.RETURN: ("customsCode", "agentCode", "ebpCode", "ebcCode", "copNo", "preNo", "invtNo"),
}


@dataclass(frozen=True)
class Receipt:
    """One return node. ``business_keys`` uses the XSD's element names (``orderNo``, ``copNo``...)."""

    kind: ReceiptKind
    guid: str
    business_keys: Mapping[str, str] = field(hash=False)
    return_status: int
    return_time: datetime
    return_info: str

    @property
    def is_error(self) -> bool:
        """Negative statuses report a processing error ("若小于0数字表示处理异常回执")."""
        return self.return_status < 0


def receipt_message(receipts: Sequence[Receipt], *, guid: str | None = None) -> bytes:
    """One receipt message holding ``receipts`` (1 to 100, all of one kind)."""
    kinds = {receipt.kind for receipt in receipts}
    if len(kinds) != 1 or not 1 <= len(receipts) <= 100:
        raise ValueError("a receipt message holds 1 to 100 receipts of a single kind")
    (kind,) = kinds
    root = message_root(kind.value, guid or new_guid())
    for receipt in receipts:
        unknown = set(receipt.business_keys) - set(BUSINESS_KEYS[kind])
        if unknown:
            raise ValueError(f"{kind.value} has no business keys {sorted(unknown)}")
        keys = [(name, receipt.business_keys.get(name)) for name in BUSINESS_KEYS[kind]]
        add_node(
            root,
            _RETURN_NODE[kind],
            [
                ("guid", receipt.guid),
                *keys,
                ("returnStatus", str(receipt.return_status)),
                ("returnTime", format_return_time(receipt.return_time)),
                ("returnInfo", receipt.return_info),
            ],
        )
    return to_bytes(root)


def parse_receipts(message: bytes) -> list[Receipt]:
    """Every return node of a CEB312/412/512/622 message. Raises :class:`ReceiptUnreadable`."""
    try:
        root = etree.fromstring(message, parser=safe_parser())
    except etree.XMLSyntaxError as exc:
        raise ReceiptUnreadable(f"not well-formed XML: {exc}") from exc
    kind = _kind_of(root.tag)
    nodes = root.findall(ceb(_RETURN_NODE[kind]))
    if not nodes:
        raise ReceiptUnreadable(f"{kind.value} message without {_RETURN_NODE[kind]}")
    return [_read_return(kind, node) for node in nodes]


def parse_receipt(message: bytes) -> Receipt:
    """The single return node of a receipt message (raises if there are several)."""
    receipts = parse_receipts(message)
    if len(receipts) != 1:
        raise ReceiptUnreadable(f"expected one receipt, found {len(receipts)}")
    return receipts[0]


def _kind_of(tag: str) -> ReceiptKind:
    name = etree.QName(tag)
    for kind in ReceiptKind:
        if name.namespace == CEB_NS and name.localname == f"{kind.value}Message":
            return kind
    raise ReceiptUnreadable(f"not a CEB receipt: root element {tag}")


def _read_return(kind: ReceiptKind, node: Any) -> Receipt:
    def text(name: str) -> str | None:
        child = node.find(ceb(name))
        return None if child is None else (child.text or "").strip()

    def required(name: str) -> str:
        value = text(name)
        if not value:
            raise ReceiptUnreadable(f"{_RETURN_NODE[kind]} without {name}")
        return value

    keys = {name: value for name in BUSINESS_KEYS[kind] if (value := text(name))}
    try:
        status = int(required("returnStatus"))
        moment = parse_return_time(required("returnTime"))
    except ValueError as exc:
        raise ReceiptUnreadable(f"{_RETURN_NODE[kind]}: {exc}") from exc
    return Receipt(kind, required("guid"), keys, status, moment, required("returnInfo"))
