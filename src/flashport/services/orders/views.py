"""What the order services answer: an order and its checkout, as the buyer sees them.

Money is text with two decimals (:func:`~flashport.domain.money.format_fen`), as the API and the pages
show it; times are UTC. The API's response models have the same fields, so these serialize unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flashport.adapters.db.orders_repo import CustomsState
from flashport.domain.money import format_fen


@dataclass(frozen=True)
class OrderLineView:
    line_no: int
    sale_item_id: int
    sku_id: int
    title: str
    quantity: int
    unit_price: str
    total: str


@dataclass(frozen=True)
class OrderView:
    id: str
    order_no: str
    status: str
    event_id: int
    sale_item_id: int
    quantity: int
    fulfilment: str
    goods_value: str
    freight: str
    discount: str
    tax: str
    total: str
    currency: str
    lines: tuple[OrderLineView, ...]
    created_at: datetime
    payment_deadline: datetime
    paid_at: datetime | None
    closed_at: datetime | None
    customs_status: str | None  # the declaration's state once paid
    customs_reason_code: str | None  # why the declaration was rejected, if it was


def order_of(order: Mapping[str, Any], customs: CustomsState | None = None) -> OrderView:
    """The view of an order row with its ``lines`` (as :func:`orders_repo.load_order` reads it)."""
    return OrderView(
        id=order["id"],
        order_no=order["order_no"],
        status=order["status"],
        event_id=order["event_id"],
        sale_item_id=order["sale_item_id"],
        quantity=order["quantity"],
        fulfilment=order["fulfilment"],
        goods_value=format_fen(order["goods_value_fen"]),
        freight=format_fen(order["freight_fen"]),
        discount=format_fen(order["discount_fen"]),
        tax=format_fen(order["tax_fen"]),
        total=format_fen(order["total_fen"]),
        currency="CNY",
        lines=tuple(
            OrderLineView(
                line_no=ln["line_no"],
                sale_item_id=ln["sale_item_id"],
                sku_id=ln["sku_id"],
                title=ln["title"],
                quantity=ln["quantity"],
                unit_price=format_fen(ln["unit_price_fen"]),
                total=format_fen(ln["total_fen"]),
            )
            for ln in order.get("lines", [])
        ),
        created_at=order["created_at"],
        payment_deadline=order["payment_deadline"],
        paid_at=order.get("paid_at"),
        closed_at=order.get("closed_at"),
        customs_status=customs.state if customs is not None else None,
        customs_reason_code=customs.reason_code if customs is not None else None,
    )


@dataclass(frozen=True)
class TaxLineView:
    line_no: int
    sku_id: int
    title: str
    quantity: int
    unit_price: str
    goods_value: str
    tax_category: str
    tax_base: str
    tariff: str
    consumption_tax: str
    vat: str
    tax: str


@dataclass(frozen=True)
class ConsigneeView:
    name: str
    phone: str
    address: str
    district: str | None


@dataclass(frozen=True)
class DeclaredBuyerView:
    """The identity the order is bought as; the ID number masked."""

    name: str
    id_number: str


@dataclass(frozen=True)
class CheckoutView:
    """A checked-out order priced for customs: ``total`` is what the payment charges."""

    order_no: str
    status: str
    tax_regime: str
    goods_value: str
    freight: str
    discount: str
    tax: str
    total: str
    currency: str
    lines: tuple[TaxLineView, ...]
    consignee: ConsigneeView
    buyer: DeclaredBuyerView
    checked_out_at: datetime
    payment_deadline: datetime


def checkout_of(order: Mapping[str, Any], lines: Sequence[Mapping[str, Any]]) -> CheckoutView:
    """The view of a checked-out order row and its lines."""
    return CheckoutView(
        order_no=order["order_no"],
        status=order["status"],
        tax_regime=order["tax_regime"],
        goods_value=format_fen(order["goods_value_fen"]),
        freight=format_fen(order["freight_fen"]),
        discount=format_fen(order["discount_fen"]),
        tax=format_fen(order["tax_fen"]),
        total=format_fen(order["total_fen"]),
        currency="CNY",
        lines=tuple(_tax_line(ln) for ln in lines),
        consignee=ConsigneeView(
            name=order["consignee_name"],
            phone=order["consignee_phone"],
            address=order["consignee_address"],
            district=order["consignee_district"],
        ),
        buyer=DeclaredBuyerView(name=order["buyer_name"], id_number=order["buyer_id_masked"]),
        checked_out_at=order["checked_out_at"],
        payment_deadline=order["payment_deadline"],
    )


def _tax_line(line: Mapping[str, Any]) -> TaxLineView:
    taxes = (line["tariff_fen"], line["consumption_tax_fen"], line["vat_fen"])
    return TaxLineView(
        line_no=line["line_no"],
        sku_id=line["sku_id"],
        title=line["title"],
        quantity=line["quantity"],
        unit_price=format_fen(line["unit_price_fen"]),
        goods_value=format_fen(line["total_fen"]),
        tax_category=line["tax_category"],
        tax_base=format_fen(line["tax_base_fen"]),
        tariff=format_fen(taxes[0]),
        consumption_tax=format_fen(taxes[1]),
        vat=format_fen(taxes[2]),
        tax=format_fen(sum(taxes)),
    )
