"""The benchmark chart: timelines from a run, and the SVG it becomes."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from array import array

from flashport.bench.chart import nice_ticks, short_number, sold_over_time_svg, timelines
from flashport.bench.loadgen import Firing

SVG = "{http://www.w3.org/2000/svg}"


def test_ticks_step_by_one_two_or_five_times_a_power_of_ten() -> None:
    assert nice_ticks(600_000, 5) == [0, 200_000, 400_000, 600_000]
    assert nice_ticks(7, 5) == [0, 2, 4, 6, 8]
    assert nice_ticks(50.1, 8) == [0, 10, 20, 30, 40, 50, 60]
    assert nice_ticks(0) == [0.0, 1.0]


def test_numbers_on_axes_are_short() -> None:
    assert [short_number(v) for v in (0, 750, 12_000, 600_000, 1_500_000)] == [
        "0",
        "750",
        "12k",
        "600k",
        "1.5M",
    ]


def test_timelines_count_units_sold_and_attempts_per_second() -> None:
    # Four answers between 0 and 2 s after the first request; three of them orders.
    firing = Firing(
        status=array("H", [201, 201, 409, 201]),
        latency_ns=array("q", [100_000_000] * 4),
        finished_ns=array("q", [100_000_000, 500_000_000, 1_200_000_000, 2_000_000_000]),
    )
    sold, rates = timelines(firing, step_s=0.5, rate_step_s=1.0)
    assert sold[0] == (0.0, 0.0)
    assert sold[-1] == (2.0, 3.0)
    assert [units for _, units in sold] == [0, 1, 2, 2, 2, 3]
    assert rates == [(0.5, 2.0), (1.5, 1.0)]  # the last answer alone at 2.0 s is a sliver, left out
    assert timelines(Firing()) == ([], [])


def test_the_chart_is_valid_svg_with_both_series_and_an_escaped_title() -> None:
    svg = sold_over_time_svg(
        [(0.0, 0.0), (10.0, 300.0), (20.0, 600.0)], [(0.5, 40.0), (1.5, 45.0)], title="a <b> & c", units=600
    )
    root = ET.fromstring(svg)
    polylines = root.findall(f"{SVG}polyline")
    assert len(polylines) == 2
    assert len(polylines[1].get("points", "").split()) == 3  # units sold, drawn last so it is on top
    texts = [t.text for t in root.findall(f"{SVG}text")]
    assert "a <b> & c" in texts
    assert "600" in texts and "seconds since the first request" in texts


def test_an_empty_run_still_draws_axes() -> None:
    root = ET.fromstring(sold_over_time_svg([], [], title="nothing", units=10))
    assert root.findall(f"{SVG}polyline") == []
    assert root.findall(f"{SVG}line")
