"""Waybills to and from their table rows."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from flashport.ceb.codes import TradeMode
from flashport.ceb.model import Consignee, Enterprise
from flashport.sandbox_logistics.waybills import (
    Declaration,
    DeclarationState,
    Flight,
    ParcelOrder,
    TrackingEvent,
    Waybill,
    WaybillStatus,
)


def waybill_values(waybill: Waybill) -> dict[str, Any]:
    order, flight = waybill.order, waybill.flight
    return {
        "logistics_no": waybill.logistics_no,
        "order_no": order.order_no,
        "platform_code": order.platform.code,
        "platform_name": order.platform.name,
        "trade_mode": order.trade_mode.value,
        "consignee_name": order.consignee.name,
        "consignee_telephone": order.consignee.telephone,
        "consignee_address": order.consignee.address,
        "weight_kg": str(order.weight_kg),
        "goods_info": order.goods_info,
        "freight_fen": order.freight_fen,
        "insured_fee_fen": order.insured_fee_fen,
        "traf_no": flight.traf_no if flight else None,
        "voyage_no": flight.voyage_no if flight else None,
        "bill_no": flight.bill_no if flight else None,
        "status": waybill.status.value,
        "created_at": waybill.created_at,
        "declared_at": waybill.declared_at,
    }


def waybill_of(row: sa.Row[Any]) -> Waybill:
    order = ParcelOrder(
        order_no=row.order_no,
        platform=Enterprise(row.platform_code, row.platform_name),
        trade_mode=TradeMode(row.trade_mode),
        consignee=Consignee(row.consignee_name, row.consignee_telephone, row.consignee_address),
        weight_kg=Decimal(row.weight_kg),
        goods_info=row.goods_info,
        freight_fen=row.freight_fen,
        insured_fee_fen=row.insured_fee_fen,
    )
    flight = Flight(row.traf_no, row.voyage_no, row.bill_no) if row.bill_no else None
    return Waybill(
        row.logistics_no, order, flight, WaybillStatus(row.status), row.created_at, row.declared_at
    )


def event_of(row: sa.Row[Any]) -> TrackingEvent:
    return TrackingEvent(row.at, WaybillStatus(row.status), row.description)


def declaration_of(row: sa.Row[Any]) -> Declaration:
    values = dict(row._mapping)
    return Declaration(**{**values, "state": DeclarationState(values["state"])})
