"""What a partner may read of one order, by kind (the scoping rule of issue 15):

- a **supplier** sees the order's lines of its own goods only, its settlement (the value of those lines
  and whether the order is paid), and the buyer reduced to what a brand needs: a masked phone and the
  city, never a name, an ID number or a street address;
- a **carrier** sees the shipment it carries (waybill number, customs state) and the consignee in full,
  since it must deliver to them;
- the **payment company** sees its own payments of the order and their refunds.

An order outside the partner's scope is "not found", exactly like an order that does not exist, so a
partner cannot even learn that an order number is real."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flashport.adapters.db import partner_scope_repo as scope
from flashport.domain.errors import NotFound
from flashport.domain.partners import Partner, PartnerKind, city_of, mask_phone
from flashport.services.context import Context


@dataclass(frozen=True)
class SupplierLine:
    line_no: int
    sku_id: int
    sku_code: str
    title: str
    quantity: int
    unit_price_fen: int
    total_fen: int


@dataclass(frozen=True)
class ReducedBuyer:
    phone_masked: str | None
    city_code: str | None


@dataclass(frozen=True)
class Consignee:
    name: str | None
    phone: str | None
    address: str | None
    district: str | None


@dataclass(frozen=True)
class Shipment:
    logistics_no: str | None
    customs_state: str
    released_at: datetime | None
    shipped_at: datetime | None
    consignee: Consignee


@dataclass(frozen=True)
class PaymentView:
    out_trade_no: str
    amount_fen: int
    status: str
    trade_no: str | None
    paid_at: datetime | None


@dataclass(frozen=True)
class RefundView:
    out_request_no: str
    out_trade_no: str
    amount_fen: int
    reason: str
    status: str
    refunded_at: datetime | None


@dataclass(frozen=True)
class PartnerOrderView:
    """One order as one partner sees it; sections outside the partner's kind are None."""

    order_no: str
    status: str
    created_at: datetime
    paid_at: datetime | None
    lines: list[SupplierLine] | None = None
    settlement_fen: int | None = None
    buyer: ReducedBuyer | None = None
    shipment: Shipment | None = None
    payments: list[PaymentView] | None = None
    refunds: list[RefundView] | None = None


def _missing() -> NotFound:
    return NotFound("no such order", code="order_not_found")


async def order_for(ctx: Context, partner: Partner, order_no: str) -> PartnerOrderView:
    async with ctx.read() as conn:
        order = await scope.order_row(conn, order_no)
        if order is None:
            raise _missing()
        base: dict[str, Any] = {
            "order_no": order.order_no,
            "status": order.status,
            "created_at": order.created_at,
            "paid_at": order.paid_at,
        }
        if partner.kind is PartnerKind.SUPPLIER:
            lines = [
                SupplierLine(
                    r.line_no, r.sku_id, r.sku_code, r.title, r.quantity, r.unit_price_fen, r.total_fen
                )
                for r in await scope.lines_with_supplier(conn, order.id)
                if r.supplier_id == partner.supplier_id
            ]
            if not lines:
                raise _missing()
            return PartnerOrderView(
                **base,
                lines=lines,
                settlement_fen=sum(line.total_fen for line in lines),
                buyer=ReducedBuyer(mask_phone(order.consignee_phone), city_of(order.consignee_district)),
            )
        if partner.kind is PartnerKind.CARRIER:
            declaration = await scope.declaration_of(conn, order_no)
            if declaration is None or declaration.logistics_code != partner.logistics_code:
                raise _missing()
            consignee = Consignee(
                order.consignee_name, order.consignee_phone, order.consignee_address, order.consignee_district
            )
            shipment = Shipment(
                declaration.logistics_no,
                declaration.state,
                declaration.released_at,
                declaration.shipped_at,
                consignee,
            )
            return PartnerOrderView(**base, shipment=shipment)
        if partner.kind is PartnerKind.PAYMENT_COMPANY:
            own = [p for p in await scope.payments_of(conn, order_no) if p.provider == partner.pay_code]
            if not own:
                raise _missing()
            trade_of = {p.id: p.out_trade_no for p in own}
            refunds = [
                RefundView(
                    r.out_request_no, trade_of[r.payment_id], r.amount_fen, r.reason, r.status, r.refunded_at
                )
                for r in await scope.refunds_of(conn, list(trade_of))
            ]
            payments = [
                PaymentView(p.out_trade_no, p.amount_fen, p.status, p.provider_trade_no, p.paid_at)
                for p in own
            ]
            return PartnerOrderView(**base, payments=payments, refunds=refunds)
    raise _missing()
