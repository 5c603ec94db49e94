"""CEB311 (order), CEB411 (payment voucher) and CEB511 (waybill). Element order is the XSD's."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from flashport.ceb.checks import check_order
from flashport.ceb.codes import CURRENCY_CNY, ORDER_TYPE_IMPORT
from flashport.ceb.envelope import Field, add_base_transfer, add_node, finish, head_opening, message_root
from flashport.ceb.errors import InconsistentDeclaration
from flashport.ceb.formatting import format_app_time, format_quantity, format_yuan, new_guid
from flashport.ceb.model import (
    AppStatus,
    AppType,
    OrderDeclaration,
    OrderLine,
    PaymentDeclaration,
    Sender,
    WaybillDeclaration,
)

if TYPE_CHECKING:
    from flashport.ceb.signing import Signer


def order_message(
    order: OrderDeclaration,
    sender: Sender,
    app_type: AppType = AppType.NEW,
    app_status: AppStatus = AppStatus.DECLARED,
    *,
    guid: str | None = None,
    app_time: datetime | None = None,
    signer: Signer | None = None,
) -> bytes:
    """The CEB311 message declaring ``order``. The same guid names the message and the order head.

    Raises :class:`InconsistentDeclaration` when the amounts or line numbers do not add up.
    """
    problems = check_order(order)
    if problems:
        raise InconsistentDeclaration(problems)
    guid = guid or new_guid()
    root = message_root("CEB311", guid)
    node = add_node(root, "Order")
    add_node(node, "OrderHead", _order_head(order, head_opening(guid, app_type, app_time, app_status)))
    for line in order.lines:
        add_node(node, "OrderList", _order_line(line))
    add_base_transfer(root, sender)
    return finish(root, signer)


def _order_head(order: OrderDeclaration, opening: list[Field]) -> list[Field]:
    payment = order.payment
    return [
        *opening,
        ("orderType", ORDER_TYPE_IMPORT),
        ("orderNo", order.order_no),
        ("ebpCode", order.platform.code),
        ("ebpName", order.platform.name),
        ("ebcCode", order.seller.code),
        ("ebcName", order.seller.name),
        ("goodsValue", format_yuan(order.goods_value)),
        ("freight", format_yuan(order.freight)),
        ("discount", format_yuan(order.discount)),
        ("taxTotal", format_yuan(order.tax_total)),
        ("acturalPaid", format_yuan(order.actural_paid)),
        ("currency", CURRENCY_CNY),
        ("buyerRegNo", order.buyer_reg_no),
        ("buyerName", order.buyer.name),
        ("buyerTelephone", order.buyer.telephone),
        ("buyerIdType", order.buyer.id_type),
        ("buyerIdNumber", order.buyer.id_number),
        ("payCode", payment.company.code if payment else None),
        ("payName", payment.company.name if payment else None),
        ("payTransactionId", payment.transaction_id if payment else None),
        ("consignee", order.consignee.name),
        ("consigneeTelephone", order.consignee.telephone),
        ("consigneeAddress", order.consignee.address),
        ("consigneeDistrict", order.consignee.district),
        ("note", order.note),
    ]


def _order_line(line: OrderLine) -> list[Field]:
    return [
        ("gnum", str(line.gnum)),
        ("itemNo", line.item_no),
        ("itemName", line.item_name),
        ("gmodel", line.gmodel),
        ("itemDescribe", line.description),
        ("barCode", line.bar_code),
        ("unit", line.unit),
        ("qty", format_quantity(line.qty)),
        ("price", format_yuan(line.price)),
        ("totalPrice", format_yuan(line.total_price)),
        ("currency", CURRENCY_CNY),
        ("country", line.country),
        ("note", line.note),
    ]


def payment_message(
    payment: PaymentDeclaration,
    sender: Sender,
    app_type: AppType = AppType.NEW,
    app_status: AppStatus = AppStatus.DECLARED,
    *,
    guid: str | None = None,
    app_time: datetime | None = None,
    signer: Signer | None = None,
) -> bytes:
    """The CEB411 payment voucher the payment company declares for ``payment``."""
    if payment.amount_paid <= 0:
        raise InconsistentDeclaration(["amountPaid must be positive"])
    guid = guid or new_guid()
    root = message_root("CEB411", guid)
    fields: list[Field] = [
        *head_opening(guid, app_type, app_time, app_status),
        ("payCode", payment.payment_company.code),
        ("payName", payment.payment_company.name),
        ("payTransactionId", payment.pay_transaction_id),
        ("orderNo", payment.order_no),
        ("ebpCode", payment.platform.code),
        ("ebpName", payment.platform.name),
        ("payerIdType", payment.payer.id_type),
        ("payerIdNumber", payment.payer.id_number),
        ("payerName", payment.payer.name),
        ("telephone", payment.payer.telephone),
        ("amountPaid", format_yuan(payment.amount_paid)),
        ("currency", CURRENCY_CNY),
        ("payTime", format_app_time(payment.pay_time)),
        ("note", payment.note),
    ]
    add_node(add_node(root, "Payment"), "PaymentHead", fields)
    add_base_transfer(root, sender)
    return finish(root, signer)


def waybill_message(
    waybill: WaybillDeclaration,
    sender: Sender,
    app_type: AppType = AppType.NEW,
    app_status: AppStatus = AppStatus.DECLARED,
    *,
    guid: str | None = None,
    app_time: datetime | None = None,
    signer: Signer | None = None,
) -> bytes:
    """The CEB511 waybill the logistics company declares for one parcel."""
    if waybill.freight < 0 or waybill.insured_fee < 0:
        raise InconsistentDeclaration(["freight and insuredFee must not be negative"])
    guid = guid or new_guid()
    root = message_root("CEB511", guid)
    fields: list[Field] = [
        *head_opening(guid, app_type, app_time, app_status),
        ("logisticsCode", waybill.logistics_company.code),
        ("logisticsName", waybill.logistics_company.name),
        ("logisticsNo", waybill.logistics_no),
        ("billNo", waybill.bill_no),
        ("orderNo", waybill.order_no),
        ("freight", format_yuan(waybill.freight)),
        ("insuredFee", format_yuan(waybill.insured_fee)),
        ("currency", CURRENCY_CNY),
        ("weight", format_quantity(waybill.weight_kg)),
        ("packNo", str(waybill.pack_no)),
        ("goodsInfo", waybill.goods_info),
        ("consignee", waybill.consignee.name),
        ("consigneeAddress", waybill.consignee.address),
        ("consigneeTelephone", waybill.consignee.telephone),
        ("note", waybill.note),
    ]
    add_node(add_node(root, "Logistics"), "LogisticsHead", fields)
    add_base_transfer(root, sender)
    return finish(root, signer)
