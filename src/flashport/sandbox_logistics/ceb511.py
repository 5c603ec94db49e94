"""The CEB511 the sandbox carrier declares for a waybill: new (appType 1), change (2) or delete (3),
always with appStatus 2 (declared) and unsigned (the signature is optional on CEB511)."""

from __future__ import annotations

from flashport.ceb import AppType, Enterprise, Sender, WaybillDeclaration, waybill_message
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
