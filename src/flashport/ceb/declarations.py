"""CEB311 (order), CEB411 (payment voucher) and CEB511 (waybill). Element order is the XSD's."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from flashport.ceb.checks import check_order
from flashport.ceb.codes import CURRENCY_CNY, ORDER_TYPE_IMPORT
from flashport.ceb.envelope import (
    Field,
    Opening,
    add_node,
    batch_message,
    entries_of,
)
from flashport.ceb.errors import InconsistentDeclaration
from flashport.ceb.formatting import format_app_time, format_quantity, format_yuan
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
    orders: OrderDeclaration | Sequence[OrderDeclaration],
    sender: Sender,
    app_type: AppType = AppType.NEW,
    app_status: AppStatus = AppStatus.DECLARED,
    *,
    guid: str | None = None,
    head_guids: Sequence[str] | None = None,
    app_time: datetime | None = None,
    signer: Signer | None = None,
) -> bytes:
    """The CEB311 message declaring one order or up to 100, one ``Order`` each, in the order given.
    ``head_guids`` names each order's head (receipts echo it); without them a single order's head
    shares the message guid and a batch's heads get fresh ones.

    Raises :class:`InconsistentDeclaration` when an order's amounts or line numbers do not add up
    (naming the order), or for no order or more than 100.
    """
    entries = entries_of(orders, OrderDeclaration)
    problems = [
        f"order {o.order_no}: {p}" if len(entries) > 1 else p for o in entries for p in check_order(o)
    ]
    if problems:
        raise InconsistentDeclaration(problems)
    return batch_message(
        "CEB311",
        entries,
        _add_order,
        sender,
        Opening(app_type, app_status, app_time),
        guid=guid,
        head_guids=head_guids,
        signer=signer,
    )


def _add_order(root: Any, order: OrderDeclaration, opening: list[Field]) -> None:
    node = add_node(root, "Order")
    add_node(node, "OrderHead", _order_head(order, opening))
    for line in order.lines:
        add_node(node, "OrderList", _order_line(line))


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
    payments: PaymentDeclaration | Sequence[PaymentDeclaration],
    sender: Sender,
    app_type: AppType = AppType.NEW,
    app_status: AppStatus = AppStatus.DECLARED,
    *,
    guid: str | None = None,
    head_guids: Sequence[str] | None = None,
    app_time: datetime | None = None,
    signer: Signer | None = None,
) -> bytes:
    """The CEB411 payment vouchers (one, or up to 100) the payment company declares; ``head_guids``
    as for :func:`order_message`."""
    entries = entries_of(payments, PaymentDeclaration)
    refused = [p.order_no for p in entries if p.amount_paid <= 0]
    if refused:
        raise InconsistentDeclaration([f"amountPaid must be positive (orders {refused})"])
    return batch_message(
        "CEB411",
        entries,
        lambda root, payment, opening: add_node(
            add_node(root, "Payment"), "PaymentHead", _payment_head(payment, opening)
        ),
        sender,
        Opening(app_type, app_status, app_time),
        guid=guid,
        head_guids=head_guids,
        signer=signer,
    )


def _payment_head(payment: PaymentDeclaration, opening: list[Field]) -> list[Field]:
    return [
        *opening,
        ("payCode", payment.payment_company.code),
        ("payName", payment.payment_company.name),
        ("payTransactionId", payment.pay_transaction_id),
        ("orderNo", payment.order_no),
        ("ebpCode", payment.platform.code),
        ("ebpName", payment.platform.name),
        ("payerIdType", payment.payer.id_type),
        ("payerIdNumber", payment.payer.id_number),
        ("payerName", payment.payer.name),
        ("telephone", payment.payer.telephone or None),  # optional: left out when unknown, never empty
        ("amountPaid", format_yuan(payment.amount_paid)),
        ("currency", CURRENCY_CNY),
        ("payTime", format_app_time(payment.pay_time)),
        ("note", payment.note),
    ]


def waybill_message(
    waybills: WaybillDeclaration | Sequence[WaybillDeclaration],
    sender: Sender,
    app_type: AppType = AppType.NEW,
    app_status: AppStatus = AppStatus.DECLARED,
    *,
    guid: str | None = None,
    head_guids: Sequence[str] | None = None,
    app_time: datetime | None = None,
    signer: Signer | None = None,
) -> bytes:
    """The CEB511 waybills (one parcel each, one or up to 100) the logistics company declares;
    ``head_guids`` as for :func:`order_message`."""
    entries = entries_of(waybills, WaybillDeclaration)
    refused = [w.logistics_no for w in entries if w.freight < 0 or w.insured_fee < 0]
    if refused:
        raise InconsistentDeclaration([f"freight and insuredFee must not be negative (waybills {refused})"])
    return batch_message(
        "CEB511",
        entries,
        lambda root, waybill, opening: add_node(
            add_node(root, "Logistics"), "LogisticsHead", _waybill_head(waybill, opening)
        ),
        sender,
        Opening(app_type, app_status, app_time),
        guid=guid,
        head_guids=head_guids,
        signer=signer,
    )


def _waybill_head(waybill: WaybillDeclaration, opening: list[Field]) -> list[Field]:
    return [
        *opening,
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
