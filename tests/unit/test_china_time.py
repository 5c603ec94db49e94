"""Customs times are China time (UTC+8): receipts' returnTime read and shown across midnight and New
Year in Shanghai, whatever zone the server runs in."""

from datetime import UTC, datetime

import pytest

from flashport.ceb.formatting import format_app_time, format_return_time, parse_return_time
from flashport.web.formatting import china_text

NEW_YEAR_IN_CHINA = datetime(2026, 12, 31, 16, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("moment", "written"),
    [
        (datetime(2026, 12, 31, 15, 59, 59, 999_000, tzinfo=UTC), "20261231235959999"),
        (NEW_YEAR_IN_CHINA, "20270101000000000"),
        (datetime(2026, 12, 2, 23, 30, tzinfo=UTC), "20261203073000000"),  # 07:30 the next day there
    ],
)
def test_a_receipts_time_is_written_and_read_back_in_china_time(moment: datetime, written: str) -> None:
    assert format_return_time(moment) == written
    assert parse_return_time(written) == moment


def test_app_time_at_new_year_in_china_is_already_the_new_year() -> None:
    assert format_app_time(NEW_YEAR_IN_CHINA) == "20270101000000"


def test_the_operator_sees_a_receipts_time_as_customs_wrote_it() -> None:
    assert china_text(parse_return_time("20270101000000123")) == "01 Jan 2027, 00:00:00.123 China time"
    assert china_text(datetime(2026, 12, 2, 23, 30, tzinfo=UTC)) == "03 Dec 2026, 07:30:00.000 China time"
