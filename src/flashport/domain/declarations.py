"""A customs declaration: the four documents of one paid order and where customs has got with them.

    pending ─all four sent─▶ declared ─2─▶ received ─120─▶ matched ─800─▶ released ──▶ shipped
       ▲                        │               │                │
       │                        ╰───────────────┴─ 100 / error ──┴─▶ rejected ─fix window─▶ refunded
       ╰───────── operator re-declares (next version, appType 2 "change") ─────╯

Receipts may arrive twice or out of order: a receipt only ever moves a declaration forward (by
:data:`PROGRESS`), never back, and a receipt about an older version of the documents is ignored.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass


class DeclarationState(enum.StrEnum):
    PENDING = "pending"  # documents still to send (or to resend after a failure)
    DECLARED = "declared"  # all four sent; waiting for customs
    RECEIVED = "received"  # customs has the inventory list and is matching
    MATCHED = "matched"  # order, payment and waybill agree with the inventory list
    RELEASED = "released"  # customs released the parcel: it may ship
    SHIPPED = "shipped"  # handed to the carrier
    REJECTED = "rejected"  # customs refused it; the reason says why
    REFUNDED = "refunded"  # not fixed within the fix window: the buyer got the money back


PROGRESS = {
    DeclarationState.PENDING: 0,
    DeclarationState.DECLARED: 1,
    DeclarationState.RECEIVED: 2,
    DeclarationState.MATCHED: 3,
    DeclarationState.RELEASED: 4,
    DeclarationState.SHIPPED: 5,
}
# States a customs verdict can still reach; rejected, refunded and shipped are settled by us.
AWAITING_CUSTOMS = (DeclarationState.DECLARED, DeclarationState.RECEIVED, DeclarationState.MATCHED)
REDECLARABLE = (DeclarationState.REJECTED,)

# Inventory receipt (CEB622) statuses, see docs/architecture.md, "After the purchase".
STATUS_RECEIVED = 2
STATUS_MATCHED = 120
STATUS_REJECTED = 100
STATUS_RELEASED = 800
PROCESSING_ERROR = "processing_error"
# Rejections no correction can cure: the buyer's purchases are what they are. Refunded at once rather
# than after the fix window.
BEYOND_REPAIR = frozenset({"annual_limit_exceeded", "single_limit_exceeded"})

_REASON = re.compile(r"^\s*\[([a-z_]+)\]\s*(.*)$", re.DOTALL)


@dataclass(frozen=True)
class Verdict:
    """What one receipt does to a declaration."""

    state: DeclarationState
    reason_code: str | None = None
    reason: str | None = None


def inventory_verdict(status: int, info: str) -> Verdict | None:
    """The move a CEB622 status asks for; None for statuses that change nothing here (3 sent, 300
    manual review...). Negative statuses are processing errors: the declaration cannot go on as sent."""
    if status < 0:
        return Verdict(DeclarationState.REJECTED, PROCESSING_ERROR, info)
    if status == STATUS_REJECTED:
        code, text = reason_of(info)
        return Verdict(DeclarationState.REJECTED, code, text)
    return {
        STATUS_RECEIVED: Verdict(DeclarationState.RECEIVED),
        STATUS_MATCHED: Verdict(DeclarationState.MATCHED),
        STATUS_RELEASED: Verdict(DeclarationState.RELEASED),
    }.get(status)


def other_receipt_verdict(status: int, info: str) -> Verdict | None:
    """Receipts of the order message (CEB312): only an error stops the declaration."""
    if status < 0:
        return Verdict(DeclarationState.REJECTED, PROCESSING_ERROR, info)
    return None


def reason_of(info: str) -> tuple[str, str]:
    """``"[payer_mismatch] payer ..."`` -> ``("payer_mismatch", "payer ...")``; customs text without a
    code is kept whole under ``rejected``."""
    found = _REASON.match(info)
    if found is None:
        return "rejected", info.strip()
    return found.group(1), found.group(2).strip()


def fix_window_applies(verdict: Verdict) -> bool:
    """Whether a rejection waits for an operator's fix before the buyer is refunded."""
    return verdict.reason_code not in BEYOND_REPAIR


def applies(current: DeclarationState, verdict: Verdict) -> bool:
    """Whether ``verdict`` moves a declaration in ``current``: forward only, and a rejection only while
    customs still holds the documents (a released parcel is never un-released by a stale receipt)."""
    if current not in AWAITING_CUSTOMS:
        return False
    if verdict.state is DeclarationState.REJECTED:
        return True
    return PROGRESS[verdict.state] > PROGRESS[current]
