"""The pre-heat rules (domain/sales.py, domain/calendar.py): before the start or refused, and buyers see
an announced sale from its pre-heat on."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from flashport.domain.calendar import Booking, preheats_on
from flashport.domain.errors import InvalidInput
from flashport.domain.sales import EventState, check_preheat, shown_to_buyers

START = datetime(2027, 3, 10, 2, 0, tzinfo=UTC)  # 10:00 in China


def test_a_preheat_before_the_start_or_none_is_accepted() -> None:
    check_preheat(None, START)
    check_preheat(START - timedelta(days=3), START)


@pytest.mark.parametrize(
    ("preheat", "code"),
    [
        (START, "preheat_not_before_start"),
        (START + timedelta(minutes=1), "preheat_not_before_start"),
        (START.replace(tzinfo=None) - timedelta(days=1), "naive_datetime"),
        (datetime(1999, 1, 1, tzinfo=UTC), "invalid_preheat"),
    ],
)
def test_a_preheat_at_or_after_the_start_is_refused_with_a_clear_code(preheat: datetime, code: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        check_preheat(preheat, START)
    assert refused.value.code == code


def test_buyers_see_a_scheduled_sale_from_its_preheat_on_and_never_a_draft() -> None:
    preheat = START - timedelta(days=2)
    assert not shown_to_buyers(EventState.SCHEDULED, preheat, preheat - timedelta(seconds=1))
    assert shown_to_buyers(EventState.SCHEDULED, preheat, preheat)
    assert shown_to_buyers(EventState.SCHEDULED, None, preheat)
    assert not shown_to_buyers(EventState.DRAFT, preheat, START)
    assert not shown_to_buyers(EventState.CANCELLED, None, START)


def test_the_calendar_marks_the_days_from_the_preheat_to_the_start_in_china_time() -> None:
    booking = Booking(1, "Alpine week", "global-flash-sale", "scheduled", START, START + timedelta(days=7))
    with_preheat = replace(booking, preheat_at=START - timedelta(days=2))
    days = [date(2027, 3, d) for d in range(7, 12)]
    assert [preheats_on(with_preheat, d) for d in days] == [False, True, True, True, False]
    assert not any(preheats_on(booking, d) for d in days)
