"""The platform's side of the carrier: :class:`LogisticsProvider` and its HTTP implementation."""

from flashport.adapters.logistics.http import HttpLogisticsProvider
from flashport.adapters.logistics.interface import (
    LogisticsProvider,
    LogisticsRefused,
    LogisticsUnavailable,
    Waybill,
    WaybillRequest,
)

__all__ = [
    "HttpLogisticsProvider",
    "LogisticsProvider",
    "LogisticsRefused",
    "LogisticsUnavailable",
    "Waybill",
    "WaybillRequest",
]
