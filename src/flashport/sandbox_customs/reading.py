"""From the bytes on the wire to an :class:`Envelope` (who sent what) and the document's facts.

Everything is read with the customs layer's safe parser: messages come from outside. Amounts are read
(in :mod:`.facts`) from their yuan text with ``Decimal`` and must be whole fen; a float never appears.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import InvalidOperation
from typing import Any

from lxml import etree

from flashport.ceb.xml import CEB_NS, ceb, safe_parser, to_bytes
from flashport.sandbox_customs.documents import DocumentKind, Facts
from flashport.sandbox_customs.facts import FACT_READERS, Fields

# Where each kind keeps its head and its lines (None: no lines).
_HEAD = {
    DocumentKind.ORDER: ("Order", "OrderHead", "OrderList"),
    DocumentKind.PAYMENT: ("Payment", "PaymentHead", None),
    DocumentKind.WAYBILL: ("Logistics", "LogisticsHead", None),
    DocumentKind.INVENTORY: ("Inventory", "InventoryHead", "InventoryList"),
}


class NotACebMessage(Exception):
    """Not well-formed XML, not a CEB311/411/511/621 message, or no ``BaseTransfer/dxpId`` to answer."""


class UnreadableDocument(Exception):
    """A field the match needs is missing or malformed (only reachable with schema validation off)."""


@dataclass(frozen=True)
class Envelope:
    kind: DocumentKind
    message_guid: str  # the root's guid attribute ("" when missing: the schema check will say so)
    dxp_id: str  # the sender's DXP id: every receipt for this message goes to its inbox
    head: Mapping[str, str]  # text of each child of the head, by element name; empty without a head

    @property
    def order_no(self) -> str | None:
        return self.head.get("orderNo") or None


@dataclass(frozen=True)
class Incoming:
    """A message that passed the schema and signature checks, with the facts read from it."""

    envelope: Envelope
    facts: Facts
    raw: bytes


def open_envelope(raw: bytes) -> tuple[Envelope, Any]:
    """The envelope and the parsed root. Raises :class:`NotACebMessage`."""
    try:
        root = etree.fromstring(raw, parser=safe_parser())
    except (etree.XMLSyntaxError, ValueError) as exc:
        raise NotACebMessage(f"not well-formed XML: {exc}") from exc
    kind = _kind_of(root.tag)
    dxp_id = _text(root.find(f"{ceb('BaseTransfer')}/{ceb('dxpId')}"))
    if not dxp_id:
        raise NotACebMessage(f"{kind.value}Message without BaseTransfer/dxpId: nowhere to send receipts")
    return Envelope(kind, root.get("guid") or "", dxp_id, children(_head(kind, root))), root


@dataclass(frozen=True)
class Entry:
    """One document of a message (a message carries up to 100 of one kind): its envelope, its own
    XML root and bytes. A message of one document is its own entry, bytes as received; each document
    of a batch is cut out as a message of its own (its node and the batch's ``BaseTransfer``), which is
    what customs files, matches and reads again."""

    envelope: Envelope
    root: Any
    raw: bytes


def open_entries(raw: bytes) -> list[Entry]:
    """Every document of the message, in order (at least one: a message without one is answered as
    one document without a head). Raises :class:`NotACebMessage`."""
    envelope, root = open_envelope(raw)
    node_name, _head_name, _lines = _HEAD[envelope.kind]
    nodes = root.findall(ceb(node_name))
    if len(nodes) <= 1:
        return [Entry(envelope, root, raw)]
    transfer = root.find(ceb("BaseTransfer"))
    entries = []
    for node in nodes:
        alone = etree.Element(root.tag, attrib=dict(root.attrib), nsmap=root.nsmap)
        alone.append(copy.deepcopy(node))
        alone.append(copy.deepcopy(transfer))
        head = children(_head(envelope.kind, alone))
        entries.append(Entry(dataclasses.replace(envelope, head=head), alone, to_bytes(alone)))
    return entries


def read_facts(envelope: Envelope, root: Any) -> Facts:
    """The facts the match needs. Raises :class:`UnreadableDocument`."""
    node_name, _head_name, line_name = _HEAD[envelope.kind]
    nodes = [] if line_name is None else root.findall(f"{ceb(node_name)}/{ceb(line_name)}")
    lines = [children(node) for node in nodes]
    try:
        return FACT_READERS[envelope.kind](Fields(envelope.head), [Fields(line) for line in lines])
    except (ValueError, InvalidOperation) as exc:
        raise UnreadableDocument(f"{envelope.kind.value}: {exc}") from exc


def line_fields(envelope: Envelope, root: Any) -> list[dict[str, str]]:
    """The text of each line's children (none for payment and waybill)."""
    node_name, _head_name, line_name = _HEAD[envelope.kind]
    nodes = [] if line_name is None else root.findall(f"{ceb(node_name)}/{ceb(line_name)}")
    return [children(node) for node in nodes]


def read(raw: bytes) -> Incoming:
    """Envelope and facts of a message already on file."""
    envelope, root = open_envelope(raw)
    return Incoming(envelope, read_facts(envelope, root), raw)


def _kind_of(tag: Any) -> DocumentKind:
    name = etree.QName(tag) if isinstance(tag, str) else None
    for kind in DocumentKind:
        if name is not None and name.namespace == CEB_NS and name.localname == f"{kind.value}Message":
            return kind
    raise NotACebMessage(f"root element {tag} is not a CEB311/411/511/621 message")


def _head(kind: DocumentKind, root: Any) -> Any:
    node_name, head_name, _lines = _HEAD[kind]
    return root.find(f"{ceb(node_name)}/{ceb(head_name)}")


def children(node: Any) -> dict[str, str]:
    if node is None:
        return {}
    return {etree.QName(child).localname: _text(child) for child in node if isinstance(child.tag, str)}


def _text(node: Any) -> str:
    return "" if node is None else (node.text or "").strip()
