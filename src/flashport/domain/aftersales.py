"""After-sales: a buyer returns a delivered parcel (issue 18, point 3).

    requested ─operator approves─▶ approved ─CEB625 sent─▶ declared ─CEB626 taken─▶ refunded
                                                                    ╰─CEB626 refused─▶ refused

A return may be asked for within the policy's days after delivery (a setting), once per order. The
money and the buyer's annual quota come back only when customs takes the return application: until
then the goods still count as imported.
"""

from __future__ import annotations

import enum
from datetime import datetime, timedelta

from flashport.domain.declarations import DeclarationState as D
from flashport.domain.errors import Conflict, InvalidInput

REASON_MAX = 200  # what a buyer writes; the CEB625's reason allows 1000


class AftersaleState(enum.StrEnum):
    REQUESTED = "requested"
    APPROVED = "approved"
    DECLARED = "declared"
    REFUNDED = "refunded"
    REFUSED = "refused"  # customs did not take the return application


# CEB626 returnStatus: 120 (taken in) or 399 (concluded) accept the return; 100 (refused) and any
# negative status (not processed) refuse it; 2 and 3 (on their way) change nothing yet.
RETURN_ACCEPTED = frozenset({120, 399})


def return_reason(text: str) -> str:
    reason = " ".join(text.split())
    if not reason:
        raise InvalidInput("say why you return the parcel", code="reason_required")
    if len(reason) > REASON_MAX:
        raise InvalidInput(f"the reason is at most {REASON_MAX} characters", code="reason_too_long")
    return reason


def check_return_window(delivered_at: datetime | None, now: datetime, policy_days: int) -> None:
    """A return is asked for after delivery and within ``policy_days`` of it."""
    if delivered_at is None:
        raise Conflict("the parcel has not been delivered yet", code="not_delivered")
    if now > delivered_at + timedelta(days=policy_days):
        raise Conflict(
            f"returns are accepted within {policy_days} days of delivery", code="return_window_closed"
        )


def customs_answer(return_status: int) -> AftersaleState | None:
    """What a CEB626 does to a declared return: refunded, refused, or nothing yet."""
    if return_status in RETURN_ACCEPTED:
        return AftersaleState.REFUNDED
    if return_status == 100 or return_status < 0:
        return AftersaleState.REFUSED
    return None


# --- cancelling a paid order before release ------------------------------------------------------------
#
#   customs has not accepted the list ─▶ refunded at once, the documents deleted (appType 3)
#   customs accepted it (not released) ─▶ requested ─CEB623 sent─▶ declared ─CEB624 taken─▶ withdrawn
#                                                                          ╰─CEB624 refused─▶ refused
#
# Customs decides a release racing the withdrawal: whichever it takes first wins, and the refund
# follows only its acceptance of the withdrawal, never a release.


class CancellationState(enum.StrEnum):
    REQUESTED = "requested"  # the buyer asked; the CEB623 is to be sent
    DECLARED = "declared"  # the CEB623 is at customs
    WITHDRAWN = "withdrawn"  # customs withdrew the list: the payment is refunded
    REFUSED = "refused"  # customs refused (released first, say); the order goes on as it was


class CancelPath(enum.Enum):
    REFUND_NOW = "refund_now"  # customs has not accepted the list: delete the documents (appType 3)
    WITHDRAW_FIRST = "withdraw_first"  # customs accepted it: only a CEB623 withdraws it


# Declaration states (domain.declarations) in which each path applies. Detained goods are customs'
# to settle with an operator, and released ones come back by a return.
UNACCEPTED = frozenset(s.value for s in (D.PENDING, D.DECLARED, D.RECEIVED, D.REJECTED))
WITHDRAWABLE = frozenset(s.value for s in (D.MATCHED, D.UNDER_REVIEW, D.REVIEWED, D.INSPECTION))

# CEB624 returnStatus: 120 (taken in) or 399 (concluded) withdraw the list; 100 (refused) and any
# negative status (not processed) refuse it; 2 and 3 (on their way) change nothing yet.
WITHDRAWAL_ACCEPTED = frozenset({120, 399})


def cancel_path(declaration_state: str) -> CancelPath | None:
    """How a paid order whose declaration is in ``declaration_state`` is cancelled; None: it is not."""
    if declaration_state in UNACCEPTED:
        return CancelPath.REFUND_NOW
    if declaration_state in WITHDRAWABLE:
        return CancelPath.WITHDRAW_FIRST
    return None


def withdrawal_answer(return_status: int) -> CancellationState | None:
    """What a CEB624 does to a declared cancellation: withdrawn, refused, or nothing yet."""
    if return_status in WITHDRAWAL_ACCEPTED:
        return CancellationState.WITHDRAWN
    if return_status == 100 or return_status < 0:
        return CancellationState.REFUSED
    return None
