"""What the sandbox payment company reads from a ``refund.requested`` event of its partner feed: the
trade, the request number and the amount in fen, or nothing when one of them is missing or wrong."""

from __future__ import annotations

from typing import Any

import pytest

from flashport.sandbox_pay.refund_feed import RefundAsked, refund_asked


def _event(**data: Any) -> dict[str, Any]:
    base = {"trade_no": "2026120422001", "out_request_no": "RF7-STAF-2026120422001", "amount": "108.01"}
    return {"id": "evt_1", "type": "refund.requested", "data": {**base, "reason": "staff_refund", **data}}


def test_a_refund_event_names_the_trade_the_request_number_and_the_amount_in_fen() -> None:
    assert refund_asked(_event()) == RefundAsked(
        "2026120422001", "RF7-STAF-2026120422001", 10801, "staff_refund"
    )


@pytest.mark.parametrize(
    "broken",
    [
        {"trade_no": None},
        {"out_request_no": ""},
        {"amount": "0.00"},
        {"amount": "-1.00"},
        {"amount": "1.001"},
        {"amount": "abc"},
    ],
)
def test_an_event_without_what_a_refund_needs_asks_for_nothing(broken: dict[str, Any]) -> None:
    assert refund_asked(_event(**broken)) is None


def test_an_event_without_data_asks_for_nothing() -> None:
    assert refund_asked({"id": "evt_2", "type": "refund.requested"}) is None
    assert refund_asked("not an event") is None
