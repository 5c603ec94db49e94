"""What the sandbox carrier knows about a parcel, in plain Python: the order it carries, its waybill,
its states and the rules for moving between them.

A waybill is ``created`` (declared, waiting for the parcel), then ``in_transit`` once the platform hands
the parcel over, or ``cancelled`` before that; ``delivered`` once the consignee signed for it (which the
carrier declares to customs, CEB513). Only a created waybill can be corrected or cancelled.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from flashport.ceb.codes import TradeMode
from flashport.ceb.model import Consignee, Enterprise
from flashport.sandbox_logistics.errors import WaybillConflict


class WaybillStatus(StrEnum):
    CREATED = "created"
    IN_TRANSIT = "in_transit"
    CANCELLED = "cancelled"
    DELIVERED = "delivered"


@dataclass(frozen=True)
class ParcelOrder:
    """What the platform asks the carrier to ship: one parcel for one order."""

    order_no: str
    platform: Enterprise
    trade_mode: TradeMode
    consignee: Consignee
    weight_kg: Decimal
    goods_info: str | None = None
    freight_fen: int = 0
    insured_fee_fen: int = 0


@dataclass(frozen=True)
class Flight:
    """The cross-border leg of a direct import (9610): flight, voyage and master air waybill."""

    traf_no: str
    voyage_no: str
    bill_no: str


@dataclass(frozen=True)
class Waybill:
    logistics_no: str
    order: ParcelOrder
    flight: Flight | None
    status: WaybillStatus
    created_at: datetime
    declared_at: datetime | None = None


@dataclass(frozen=True)
class TrackingEvent:
    at: datetime
    status: WaybillStatus
    description: str


def corrected(waybill: Waybill, consignee: Consignee | None, weight_kg: Decimal | None) -> Waybill:
    """The waybill with the corrections given (None: keep). Refused once the parcel left or the waybill
    was cancelled: customs would be told of a change to a parcel the carrier no longer holds."""
    _require_created(waybill, "corrected")
    order = dataclasses.replace(
        waybill.order,
        consignee=consignee or waybill.order.consignee,
        weight_kg=weight_kg if weight_kg is not None else waybill.order.weight_kg,
    )
    return dataclasses.replace(waybill, order=order)


def dispatched(waybill: Waybill) -> Waybill:
    """In transit. Dispatching twice is harmless; a cancelled waybill cannot carry a parcel."""
    if waybill.status is WaybillStatus.CANCELLED:
        raise WaybillConflict("waybill_cancelled", f"waybill {waybill.logistics_no} was cancelled")
    if waybill.status is WaybillStatus.DELIVERED:  # a late dispatch does not undo the delivery
        return waybill
    return dataclasses.replace(waybill, status=WaybillStatus.IN_TRANSIT)


def delivered(waybill: Waybill) -> Waybill:
    """Signed for. Only a parcel on its way can be; delivering twice is harmless."""
    if waybill.status not in (WaybillStatus.IN_TRANSIT, WaybillStatus.DELIVERED):
        raise WaybillConflict(
            "waybill_not_in_transit",
            f"waybill {waybill.logistics_no} is {waybill.status.value}: "
            "only a parcel in transit is delivered",
        )
    return dataclasses.replace(waybill, status=WaybillStatus.DELIVERED)


def scanned_in_transit(waybill: Waybill) -> Waybill:
    """A scan on the way (a hub, a flight, the delivery station): the parcel must be in transit."""
    if waybill.status is not WaybillStatus.IN_TRANSIT:
        raise WaybillConflict(
            "waybill_not_in_transit",
            f"waybill {waybill.logistics_no} is {waybill.status.value}, not in transit",
        )
    return waybill


def cancelled(waybill: Waybill) -> Waybill:
    """Cancelled. Cancelling twice is harmless; a parcel already in transit cannot be called back."""
    if waybill.status in (WaybillStatus.IN_TRANSIT, WaybillStatus.DELIVERED):
        raise WaybillConflict("waybill_in_transit", f"waybill {waybill.logistics_no} is already in transit")
    return dataclasses.replace(waybill, status=WaybillStatus.CANCELLED)


def _require_created(waybill: Waybill, what: str) -> None:
    if waybill.status is not WaybillStatus.CREATED:
        raise WaybillConflict(
            f"waybill_{waybill.status.value}",
            f"waybill {waybill.logistics_no} is {waybill.status.value} and cannot be {what}",
        )


class DeclarationState(StrEnum):
    PENDING = "pending"  # not yet taken by the single window: resent until it is
    SENT = "sent"
    REFUSED = "refused"  # the single window refused the message itself; resending would not help


@dataclass(frozen=True)
class Declaration:
    """One CEB511 for a waybill, in the order the carrier made them (``id``)."""

    id: int
    logistics_no: str
    app_type: str
    message: bytes
    state: DeclarationState
    created_at: datetime
    attempts: int = 0
    sent_at: datetime | None = None
    last_error: str | None = None
    sent_in: str | None = None  # guid of the CEB511 it went in, shared with other waybills' maybe
