"""The live sale board's arithmetic: rates over a window, time to sell out, payment conversion."""

from __future__ import annotations

import pytest

from flashport.domain.board import Sample, conversion, net_take_rate, seconds_to_sell_out, units_per_second


def test_one_sample_has_no_rate() -> None:
    assert units_per_second([]) == 0.0
    assert units_per_second([Sample(at=5.0, taken=10, closed_units=0)]) == 0.0


def test_the_rate_is_over_the_window_and_counts_units_that_came_back() -> None:
    samples = [
        Sample(at=0.0, taken=0, closed_units=0),  # outside a 10 s window from t=20
        Sample(at=12.0, taken=100, closed_units=0),
        Sample(at=16.0, taken=140, closed_units=10),  # 10 units expired and went back: still bought
        Sample(at=20.0, taken=180, closed_units=10),
    ]
    # Placed units: 100 at t=12, 190 at t=20: 90 units in 8 s.
    assert units_per_second(samples, window=10.0) == pytest.approx(90 / 8)
    assert net_take_rate(samples, window=10.0) == pytest.approx(80 / 8)
    # A window shorter than any gap still uses the last two samples.
    assert units_per_second(samples, window=1.0) == pytest.approx(40 / 4)


def test_units_coming_back_faster_than_they_go_make_a_negative_net_rate() -> None:
    samples = [Sample(at=0.0, taken=50, closed_units=0), Sample(at=5.0, taken=40, closed_units=20)]
    assert units_per_second(samples) == pytest.approx(10 / 5)
    assert net_take_rate(samples) == pytest.approx(-2.0)


def test_time_to_sell_out() -> None:
    assert seconds_to_sell_out(0, 0.0) == 0.0
    assert seconds_to_sell_out(100, 25.0) == 4.0
    assert seconds_to_sell_out(100, 0.0) is None
    assert seconds_to_sell_out(100, -3.0) is None


def test_conversion_is_paid_among_decided_orders() -> None:
    assert conversion(0, 0) is None
    assert conversion(3, 1) == 0.75
    assert conversion(0, 4) == 0.0


def test_the_board_screens_report_nearest_rank_percentiles() -> None:
    from flashport.bench.board_screens import ScreensReport

    watched = ScreensReport(screens=2, polls=4, failures=0, latencies_ms=[4.0, 1.0, 3.0, 2.0])
    assert (watched.percentile(0.5), watched.percentile(0.99)) == (2.0, 4.0)
    assert ScreensReport(screens=1).percentile(0.5) is None
