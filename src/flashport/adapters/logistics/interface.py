"""The carrier behind one small interface: the platform asks for a waybill per parcel, hands the parcel
over, corrects or cancels the waybill. The carrier itself declares the waybill to customs (CEB511); the
platform only needs the numbers back, to put on the inventory list (CEB621).

:class:`~flashport.adapters.logistics.http.HttpLogisticsProvider` speaks the sandbox carrier's API
(``flashport.sandbox_logistics``); a real carrier is another implementation of :class:`LogisticsProvider`.

Failure policy: :class:`LogisticsUnavailable` (no answer, or a server error) means nothing is known to
have changed and the same call may be made again later: creating a waybill is idempotent on the order
number, dispatching and cancelling are idempotent too. :class:`LogisticsRefused` means the carrier
answered no; repeating the same call will get the same answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from flashport.ceb.codes import TradeMode
from flashport.ceb.model import Consignee, Enterprise


class LogisticsUnavailable(Exception):
    """The carrier could not be reached, answered with a server error, or answered unreadably."""


class LogisticsRefused(Exception):
    """The carrier refused the request (4xx): bad input, unknown waybill, wrong state, bad key."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass(frozen=True)
class WaybillRequest:
    """One parcel for one order. The consignee must be the order's, to the character: customs matches
    them. ``weight_kg`` is the gross weight; money is integer fen."""

    order_no: str
    platform: Enterprise
    trade_mode: TradeMode
    consignee: Consignee
    weight_kg: Decimal
    goods_info: str | None = None
    freight_fen: int = 0
    insured_fee_fen: int = 0


@dataclass(frozen=True)
class Waybill:
    """The carrier's waybill. ``bill_no``, ``traf_no`` and ``voyage_no`` (master air waybill, flight,
    voyage) are set for direct import (9610) only. ``status``: ``created``, ``in_transit`` or
    ``cancelled``. ``declared``: customs took the carrier's latest CEB511, which ``message`` holds."""

    logistics_no: str
    logistics_code: str
    logistics_name: str
    bill_no: str | None
    traf_no: str | None
    voyage_no: str | None
    status: str
    declared: bool
    message: bytes | None


class LogisticsProvider(Protocol):
    async def create_waybill(self, request: WaybillRequest) -> Waybill:
        """The order's waybill: made on the first call, the same one on every later call."""

    async def create_waybills(self, requests: list[WaybillRequest]) -> list[Waybill]:
        """The waybills of up to 100 orders in one exchange, in the order asked (each made on the first
        call, the same one on every later call). :class:`LogisticsRefused` refuses the whole batch."""

    async def waybill(self, logistics_no: str) -> Waybill:
        """The waybill as the carrier has it now."""

    async def dispatch(self, logistics_no: str) -> Waybill:
        """Hand over the parcel; only once customs released it. Idempotent."""

    async def redeclare(
        self, logistics_no: str, consignee: Consignee | None, *, weight_kg: Decimal | None = None
    ) -> Waybill:
        """Correct the consignee and/or weight (None: keep) and have the carrier declare the change."""

    async def cancel(self, logistics_no: str) -> Waybill:
        """Cancel a waybill whose parcel was not handed over; the carrier withdraws it from customs."""

    async def close(self) -> None:
        """Release connections."""
