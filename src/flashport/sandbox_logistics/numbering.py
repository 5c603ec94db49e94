"""The numbers the sandbox carrier hands out: waybill numbers, and for direct import the flight that
carries the parcel and its master air waybill.

Invented for the sandbox, shaped like the real thing: parcels of one day fly on one flight under one
master air waybill (consolidated cargo). ``voyageNo`` is written as the flight date, as we understand
air manifests to be keyed on flight number and date *(unverified: public guides do not say what
carriers put there for air)*.
"""

from __future__ import annotations

import secrets
from datetime import date

from flashport.sandbox_logistics.waybills import Flight

WAYBILL_PREFIX = "SL"
WAYBILL_DIGITS = 12
# China Southern: IATA designator CZ, air waybill prefix 784. The flight number is the sandbox's own.
FLIGHT_NUMBER = "CZ328"
AIRLINE_AWB_PREFIX = "784"


def new_logistics_no() -> str:
    """``SL`` and 12 random digits; the caller makes sure no other waybill has it."""
    return f"{WAYBILL_PREFIX}{secrets.randbelow(10**WAYBILL_DIGITS):0{WAYBILL_DIGITS}d}"


def master_air_waybill(serial: int, prefix: str = AIRLINE_AWB_PREFIX) -> str:
    """IATA form ``784-12345675``: airline prefix, 7-digit serial, check digit = serial mod 7."""
    if not 0 <= serial < 10**7:
        raise ValueError(f"an air waybill serial has 7 digits, got {serial}")
    return f"{prefix}-{serial:07d}{serial % 7}"


def flight_on(day: date) -> Flight:
    """The day's flight into China and the master air waybill every parcel on it travels under."""
    return Flight(
        traf_no=FLIGHT_NUMBER,
        voyage_no=day.strftime("%Y%m%d"),
        bill_no=master_air_waybill(day.toordinal() % 10**7),
    )
