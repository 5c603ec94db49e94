"""The CEB511 the sandbox carrier declares for a waybill: new (appType 1), change (2) or delete (3),
always with appStatus 2 (declared) and unsigned (the signature is optional on CEB511)."""

from __future__ import annotations

from collections.abc import Sequence

from lxml import etree

from flashport.ceb import AppType, Enterprise, Sender, WaybillDeclaration, waybill_message
from flashport.ceb.envelope import MAX_ENTRIES, add_base_transfer, finish, message_root
from flashport.ceb.formatting import new_guid
from flashport.ceb.xml import ceb, safe_parser
from flashport.sandbox_logistics.faults import Fault, with_fault
from flashport.sandbox_logistics.waybills import Waybill


def declaration_of(waybill: Waybill, sender: Sender) -> WaybillDeclaration:
    """What the waybill says to customs; the sender is the carrier itself."""
    order = waybill.order
    return WaybillDeclaration(
        logistics_company=sender_enterprise(sender),
        logistics_no=waybill.logistics_no,
        order_no=order.order_no,
        weight_kg=order.weight_kg,
        consignee=order.consignee,
        freight=order.freight_fen,
        insured_fee=order.insured_fee_fen,
        bill_no=waybill.flight.bill_no if waybill.flight else None,
        goods_info=order.goods_info,
    )


def ceb511(waybill: Waybill, sender: Sender, app_type: AppType, fault: Fault | None = None) -> bytes:
    """The message, with ``fault`` planted in it when one is given (see :mod:`.faults`)."""
    return waybill_message(with_fault(declaration_of(waybill, sender), fault), sender, app_type)


def sender_enterprise(sender: Sender) -> Enterprise:
    return Enterprise(sender.cop_code, sender.cop_name)


def batch_of(messages: Sequence[bytes], sender: Sender) -> bytes:
    """One CEB511 carrying the waybill documents of ``messages`` (each made by :func:`ceb511`, 1 to
    100), each as it was made, its head guid included; a single message goes as it is."""
    if not 1 <= len(messages) <= MAX_ENTRIES:
        raise ValueError(f"a CEB511 carries 1 to {MAX_ENTRIES} waybills, not {len(messages)}")
    if len(messages) == 1:
        return messages[0]
    root = message_root("CEB511", new_guid())
    for message in messages:
        for node in etree.fromstring(message, parser=safe_parser()).iterfind(ceb("Logistics")):
            root.append(node)
    add_base_transfer(root, sender)
    return finish(root, None)


def guid_of(message: bytes) -> str:
    return str(etree.fromstring(message, parser=safe_parser()).get("guid"))
