"""Withdrawing an accepted inventory list (CEB623), decided purely: which way a paid order is
cancelled from its declaration's state, what a CEB624 does to the platform's cancellation, and the
single window's rule for a CEB623 (withdrawn only while accepted and unreleased, by its own number)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from flashport.domain.aftersales import CancellationState, CancelPath, cancel_path, withdrawal_answer
from flashport.domain.declarations import DeclarationState as Platform
from flashport.sandbox_customs.statuses import DeclarationState as Customs
from flashport.sandbox_customs.store import Declaration
from flashport.sandbox_customs.withdrawals import WITHDRAWN, judge

INVT_NO = "31012026I000000007"
GUID = "7A0B1C2D-0000-4000-8000-000000000001"


@pytest.mark.parametrize(
    ("state", "path"),
    [
        (Platform.PENDING, CancelPath.REFUND_NOW),
        (Platform.DECLARED, CancelPath.REFUND_NOW),
        (Platform.RECEIVED, CancelPath.REFUND_NOW),
        (Platform.REJECTED, CancelPath.REFUND_NOW),
        (Platform.MATCHED, CancelPath.WITHDRAW_FIRST),
        (Platform.UNDER_REVIEW, CancelPath.WITHDRAW_FIRST),
        (Platform.REVIEWED, CancelPath.WITHDRAW_FIRST),
        (Platform.INSPECTION, CancelPath.WITHDRAW_FIRST),
        (Platform.DETAINED, None),
        (Platform.RELEASED, None),
        (Platform.SHIPPED, None),
        (Platform.REFUNDED, None),
        (Platform.RETURNED, None),
    ],
)
def test_an_accepted_unreleased_list_is_withdrawn_first_and_an_unaccepted_one_refunded_at_once(
    state: Platform, path: CancelPath | None
) -> None:
    assert cancel_path(state.value) is path


def test_a_ceb624_withdraws_on_120_or_399_refuses_on_100_or_an_error_and_waits_otherwise() -> None:
    assert withdrawal_answer(399) is CancellationState.WITHDRAWN
    assert withdrawal_answer(120) is CancellationState.WITHDRAWN
    assert withdrawal_answer(100) is CancellationState.REFUSED
    assert withdrawal_answer(-301010) is CancellationState.REFUSED
    assert withdrawal_answer(2) is None and withdrawal_answer(3) is None


def _declaration(state: Customs, invt_no: str | None = INVT_NO) -> Declaration:
    at = datetime(2026, 12, 3, 6, 0, tzinfo=UTC)
    return Declaration(7, "FP1", "3301960001", state, None, None, "B20261203000000007", invt_no, at)


def test_the_single_window_withdraws_an_accepted_list_named_by_its_inventory_number() -> None:
    answer = judge(_declaration(Customs.ACCEPTED), INVT_NO, GUID, None)
    assert (answer.status, answer.withdraw) == (WITHDRAWN, True)


@pytest.mark.parametrize(
    ("declaration", "invt_no", "withdrawn_by", "code"),
    [
        (None, INVT_NO, None, "unknown_inventory_list"),
        (_declaration(Customs.ACCEPTED), "31012026I000000999", None, "unknown_inventory_list"),
        (_declaration(Customs.RELEASED), INVT_NO, None, "already_released"),
        (_declaration(Customs.CANCELLED), INVT_NO, "ANOTHER-GUID", "already_withdrawn"),
        (_declaration(Customs.WAITING, None), "", None, "unknown_inventory_list"),
        (_declaration(Customs.REJECTED), INVT_NO, None, "not_accepted"),
    ],
)
def test_the_single_window_refuses_a_withdrawal_with_its_reason(
    declaration: Declaration | None, invt_no: str, withdrawn_by: str | None, code: str
) -> None:
    answer = judge(declaration, invt_no, GUID, withdrawn_by)
    assert (answer.status, answer.withdraw) == (100, False)
    assert answer.info.startswith(f"[{code}] ")


def test_the_same_withdrawal_sent_again_is_answered_alike_and_withdraws_nothing_more() -> None:
    answer = judge(_declaration(Customs.CANCELLED), INVT_NO, GUID, GUID)
    assert (answer.status, answer.withdraw) == (WITHDRAWN, False)
