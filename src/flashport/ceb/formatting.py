"""How values are written in CEB messages: money, times, quantities and guids."""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime, timedelta, timezone
from decimal import ROUND_DOWN, Decimal

from flashport.domain.money import format_fen

# China has kept UTC+8 without daylight saving since 1991; a fixed offset needs no tz database.
CHINA_STANDARD_TIME = timezone(timedelta(hours=8), "CST")

_GUID = re.compile(r"^[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}$")
_SMALLEST_QUANTITY = Decimal("0.00001")  # XSD: decimals have at most 5 fraction digits


def new_guid() -> str:
    """A fresh 36-character upper-case guid, as the schema asks for message and head guids."""
    return str(uuid.uuid4()).upper()


def is_guid(value: str) -> bool:
    return bool(_GUID.match(value))


def format_yuan(fen: int) -> str:
    """``12900`` -> ``"129.00"``: integer arithmetic, never a float on the way."""
    if isinstance(fen, bool) or not isinstance(fen, int):
        raise TypeError(f"money must be integer fen, got {type(fen).__name__}")
    return format_fen(fen)


def _in_china(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("customs times must be timezone-aware")
    return moment.astimezone(CHINA_STANDARD_TIME)


def format_app_time(moment: datetime) -> str:
    """``appTime`` and ``payTime``: ``YYYYMMDDhhmmss`` in China Standard Time."""
    return _in_china(moment).strftime("%Y%m%d%H%M%S")


def format_date(day: date) -> str:
    """``declTime`` and ``ieDate``: ``YYYYMMDD``."""
    return day.strftime("%Y%m%d")


def format_return_time(moment: datetime) -> str:
    """``returnTime``: ``YYYYMMDDhhmmssSSS`` (milliseconds) in China Standard Time."""
    local = _in_china(moment)
    return local.strftime("%Y%m%d%H%M%S") + f"{local.microsecond // 1000:03d}"


def parse_return_time(text: str) -> datetime:
    """Inverse of :func:`format_return_time`; the result is aware (China Standard Time)."""
    if len(text) != 17 or not text.isdigit():
        raise ValueError(f"returnTime must be 17 digits YYYYMMDDhhmmssSSS, got {text!r}")
    moment = datetime.strptime(text[:14], "%Y%m%d%H%M%S").replace(tzinfo=CHINA_STANDARD_TIME)
    return moment.replace(microsecond=int(text[14:]) * 1000)


def format_quantity(value: int | Decimal) -> str:
    """Quantities and kilograms: plain notation, at most five decimals, never negative."""
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise TypeError(f"quantities are int or Decimal, got {type(value).__name__}")
    amount = Decimal(value)
    if not amount.is_finite() or amount < 0:
        raise ValueError(f"quantity must be a finite non-negative number, got {value}")
    if amount != amount.quantize(_SMALLEST_QUANTITY, rounding=ROUND_DOWN):
        raise ValueError(f"quantity {value} has more than five decimals")
    return f"{amount.normalize():f}"
