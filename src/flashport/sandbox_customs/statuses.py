"""What the simulator answers (``returnStatus`` of receipts) and the states it keeps per declaration.

Statuses follow the public integration guides (the XSD does not list them); any negative status is a
processing error whose ``returnInfo`` says why.
"""

from __future__ import annotations

from enum import StrEnum

PROCESSING_ERROR = -1  # refused: schema, signature, or an appType that does not fit what is on file
RECEIVED_DECLARING = 2  # CEB621 taken; the three-document match runs when the others are on file
REJECTED = 100  # the three-document match failed; returnInfo starts with "[reason_code]"
ACCEPTED = 120  # CEB311/411/511 taken into the customs system; on CEB622: the match succeeded
RELEASED = 800  # CEB622 only: the parcel is released


class DeclarationState(StrEnum):
    """One per inventory list (orderNo + ebpCode)."""

    WAITING = "waiting"  # the inventory list is on file, order, payment or waybill is missing
    REJECTED = "rejected"  # the match failed; a change (appType 2) runs it again
    ACCEPTED = "accepted"  # matched (120), held for release (``hold_release``): only a CEB623 undoes it
    RELEASED = "released"  # final: no document of the order may change any more
    CANCELLED = "cancelled"  # deleted (appType 3) before acceptance, or withdrawn by a CEB623 after it


OPEN_STATES = frozenset({DeclarationState.WAITING, DeclarationState.REJECTED})
# Accepted or released: customs took the list, so its documents no longer change by appType 2 or 3.
TAKEN_STATES = frozenset({DeclarationState.ACCEPTED, DeclarationState.RELEASED})
