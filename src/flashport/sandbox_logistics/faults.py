"""Faults a test or a demo can plant in the next CEB511 of an order, to see the platform's checks
catch what customs' three-document match would catch.

- ``consignee``: the waybill declares another consignee telephone than the order's.
- ``waybill_number``: the waybill declares another logisticsNo than the one the platform was given.

The stored waybill is not changed: only the message customs receives is wrong, as with a carrier whose
systems disagree with what it told the platform.
"""

from __future__ import annotations

import dataclasses
from enum import StrEnum

from flashport.ceb.model import WaybillDeclaration

_DIGITS = "0123456789"


class Fault(StrEnum):
    CONSIGNEE = "consignee"
    WAYBILL_NUMBER = "waybill_number"


def with_fault(declaration: WaybillDeclaration, fault: Fault | None) -> WaybillDeclaration:
    """``declaration`` as a carrier with ``fault`` would declare it (unchanged for None)."""
    if fault is Fault.CONSIGNEE:
        consignee = declaration.consignee
        wrong = dataclasses.replace(consignee, telephone=_other_last_digit(consignee.telephone))
        return dataclasses.replace(declaration, consignee=wrong)
    if fault is Fault.WAYBILL_NUMBER:
        return dataclasses.replace(declaration, logistics_no=_other_last_digit(declaration.logistics_no))
    return declaration


def _other_last_digit(text: str) -> str:
    """The same text with its last character changed (a digit moves on by one, anything else becomes
    ``0``): the same length and look, but never equal. ``text`` is never empty (the API requires it)."""
    last = text[-1]
    return text[:-1] + (str((int(last) + 1) % 10) if last in _DIGITS else "0")
