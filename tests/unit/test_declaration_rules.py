"""The declaration's state machine: which customs receipt moves it where, and which never moves it."""

from __future__ import annotations

import pytest

from flashport.domain.declarations import (
    PROCESSING_ERROR,
    DeclarationState,
    Verdict,
    applies,
    fix_window_applies,
    inventory_verdict,
    other_receipt_verdict,
    reason_of,
)

S = DeclarationState


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (2, S.RECEIVED),
        (120, S.MATCHED),
        (800, S.RELEASED),
        (100, S.REJECTED),
        (-1, S.REJECTED),
        (-301010, S.REJECTED),
        (300, S.UNDER_REVIEW),
        (399, S.REVIEWED),
        (500, S.INSPECTION),
        (501, S.DETAINED),
        (502, S.DETAINED),
        (503, S.DETAINED),
        (599, S.DETAINED),
        (700, S.RETURNED),
        (899, S.RELEASED),  # closing follows release: a lost 800 does not hold the parcel back
    ],
)
def test_inventory_receipt_statuses_map_to_declaration_states(status: int, expected: S) -> None:
    verdict = inventory_verdict(status, "[payer_mismatch] payer 李* is not the buyer")
    assert verdict is not None and verdict.state is expected


@pytest.mark.parametrize("status", [3, 1, 4])
def test_statuses_that_decide_nothing_leave_the_declaration_alone(status: int) -> None:
    assert inventory_verdict(status, "") is None


@pytest.mark.parametrize(
    ("status", "attention"),
    [(-301010, True), (501, True), (599, True), (700, True), (300, False), (500, False), (100, False)],
)
def test_what_no_automatic_step_can_cure_goes_on_the_operators_worklist(status: int, attention: bool) -> None:
    verdict = inventory_verdict(status, "海关扣留")
    assert verdict is not None and verdict.needs_attention is attention


@pytest.mark.parametrize(
    ("info", "code"),
    [
        ("超过个人年度交易限值", "annual_limit_exceeded"),
        ("订购人年度额度超限", "annual_limit_exceeded"),
        ("订购人1101********0025超过年度累计限额26000元", "annual_limit_exceeded"),
        ("超过单次限值", "single_limit_exceeded"),
        ("单笔交易金额超过限值5000元", "single_limit_exceeded"),
        ("收货人电话与运单不一致", "rejected"),
    ],
)
def test_customs_own_wording_of_a_limit_is_read_as_that_limit(info: str, code: str) -> None:
    verdict = inventory_verdict(100, info)
    assert verdict == Verdict(S.REJECTED, code, info)
    assert fix_window_applies(verdict) is (code == "rejected")


def test_a_rejection_carries_the_machine_readable_reason_and_the_text() -> None:
    verdict = inventory_verdict(100, "[consignee_mismatch] telephone differs on the waybill")
    assert verdict == Verdict(S.REJECTED, "consignee_mismatch", "telephone differs on the waybill")


def test_a_rejection_without_a_code_keeps_customs_words_whole() -> None:
    assert reason_of("  订购人信息与支付人不符 ") == ("rejected", "订购人信息与支付人不符")
    assert reason_of("  超过年度限额 ") == ("annual_limit_exceeded", "超过年度限额")


def test_an_error_receipt_is_a_processing_error_rejection() -> None:
    assert inventory_verdict(-1, "schema: orderNo missing") == Verdict(
        S.REJECTED, PROCESSING_ERROR, "schema: orderNo missing"
    )
    assert other_receipt_verdict(-1, "bad") == Verdict(S.REJECTED, PROCESSING_ERROR, "bad")
    assert other_receipt_verdict(120, "ok") is None


@pytest.mark.parametrize(
    ("current", "to", "moves"),
    [
        (S.DECLARED, S.RECEIVED, True),
        (S.DECLARED, S.RELEASED, True),  # a receipt lost in between does not block release
        (S.MATCHED, S.RECEIVED, False),  # a late "received" never moves it back
        (S.MATCHED, S.MATCHED, False),  # a duplicate changes nothing
        (S.RECEIVED, S.REJECTED, True),
        (S.RELEASED, S.REJECTED, False),  # a released parcel is not un-released by a stale receipt
        (S.SHIPPED, S.RELEASED, False),
        (S.PENDING, S.RECEIVED, False),  # documents being re-sent: wait for the new version's receipts
        (S.REJECTED, S.RELEASED, False),
        (S.REFUNDED, S.RELEASED, False),
        (S.MATCHED, S.UNDER_REVIEW, True),
        (S.UNDER_REVIEW, S.REVIEWED, True),
        (S.REVIEWED, S.UNDER_REVIEW, False),  # a late "manual review" never moves it back
        (S.INSPECTION, S.DETAINED, True),
        (S.DETAINED, S.RELEASED, True),  # customs may release what it detained
        (S.INSPECTION, S.RETURNED, True),
        (S.RELEASED, S.RETURNED, False),
        (S.RETURNED, S.RELEASED, False),  # returned is final
    ],
)
def test_receipts_only_move_declarations_that_customs_still_holds_and_only_forward(
    current: S, to: S, moves: bool
) -> None:
    assert applies(current, Verdict(to)) is moves


@pytest.mark.parametrize(
    ("reason", "waits"),
    [
        ("consignee_mismatch", True),
        ("payer_mismatch", True),
        (PROCESSING_ERROR, True),
        ("annual_limit_exceeded", False),
        ("single_limit_exceeded", False),
    ],
)
def test_only_rejections_a_fix_could_cure_wait_for_one_before_the_refund(reason: str, waits: bool) -> None:
    assert fix_window_applies(Verdict(S.REJECTED, reason, "")) is waits
