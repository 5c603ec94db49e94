"""An SVG chart of units sold over time, with the attempt rate as a second series on its own axis.

Hand-written SVG: one small function of string formatting is cheaper than a plotting dependency, and the
file opens in any browser or README.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from xml.sax.saxutils import escape

from flashport.bench.loadgen import Firing

WIDTH, HEIGHT = 960, 520
LEFT, RIGHT, TOP, BOTTOM = 90, 90, 56, 64
SOLD_COLOUR, RATE_COLOUR = "#0b6e4f", "#c8553d"

Series = Sequence[tuple[float, float]]


def timelines(firing: Firing, step_s: float = 0.1, rate_step_s: float = 1.0) -> tuple[Series, Series]:
    """Units sold (cumulative, every ``step_s``) and attempts per second (per ``rate_step_s``), both over
    seconds since the first request was sent."""
    if not firing.status:
        return [], []
    start = min(f - lat for f, lat in zip(firing.finished_ns, firing.latency_ns, strict=True))
    seconds = [(f - start) / 1e9 for f in firing.finished_ns]
    end = max(seconds)
    sold_per_step = _count_by_step(
        (t for t, s in zip(seconds, firing.status, strict=True) if s == 201), step_s
    )
    attempts_per_step = _count_by_step(seconds, rate_step_s)
    sold: list[tuple[float, float]] = [(0.0, 0.0)]
    total = 0
    for step in range(math.floor(end / step_s) + 1):
        total += sold_per_step.get(step, 0)
        sold.append((min((step + 1) * step_s, end), float(total)))
    rates: list[tuple[float, float]] = []
    for step in range(math.floor(end / rate_step_s) + 1):
        width = min(rate_step_s, end - step * rate_step_s)
        if width >= rate_step_s / 2:  # a sliver at the very end would plot as noise
            rates.append((step * rate_step_s + width / 2, attempts_per_step.get(step, 0) / width))
    return sold, rates


def _count_by_step(seconds: Iterable[float], step_s: float) -> dict[int, int]:
    counts: dict[int, int] = {}
    for t in seconds:
        step = int(t / step_s)
        counts[step] = counts.get(step, 0) + 1
    return counts


def nice_ticks(maximum: float, count: int = 5) -> list[float]:
    """0 up to at least ``maximum`` in steps of 1, 2 or 5 times a power of ten."""
    if maximum <= 0:
        return [0.0, 1.0]
    rough = maximum / count
    power = 10 ** math.floor(math.log10(rough))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= rough)
    return [i * step for i in range(math.ceil(maximum / step - 1e-9) + 1)]


def short_number(value: float) -> str:
    if abs(value) >= 1_000_000:
        return f"{value / 1_000_000:g}M"
    if abs(value) >= 1_000:
        return f"{value / 1_000:g}k"
    return f"{value:g}"


def sold_over_time_svg(sold: Series, rates: Series, *, title: str, units: int) -> str:
    x_ticks = nice_ticks(max((t for t, _ in sold), default=1.0), count=8)
    left_ticks = nice_ticks(max(units, max((v for _, v in sold), default=0.0)))
    right_ticks = nice_ticks(max((v for _, v in rates), default=0.0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(t: float) -> float:
        return LEFT + plot_w * t / x_ticks[-1]

    def y(value: float, ticks: Sequence[float]) -> float:
        return TOP + plot_h * (1 - value / ticks[-1])

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="13">',
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>',
        f'<text x="{WIDTH / 2}" y="30" text-anchor="middle" font-size="17">{escape(title)}</text>',
    ]
    for t in x_ticks:
        parts.append(_line(x(t), TOP, x(t), TOP + plot_h, "#e5e5e5"))
        parts.append(_text(x(t), TOP + plot_h + 20, short_number(t), "middle"))
    for v in left_ticks:
        parts.append(_line(LEFT, y(v, left_ticks), LEFT + plot_w, y(v, left_ticks), "#e5e5e5"))
        parts.append(_text(LEFT - 8, y(v, left_ticks) + 4, short_number(v), "end", SOLD_COLOUR))
    for v in right_ticks:
        parts.append(_text(LEFT + plot_w + 8, y(v, right_ticks) + 4, short_number(v), "start", RATE_COLOUR))
    parts += [
        _line(LEFT, TOP, LEFT, TOP + plot_h, "#333"),
        _line(LEFT, TOP + plot_h, LEFT + plot_w, TOP + plot_h, "#333"),
        _line(LEFT + plot_w, TOP, LEFT + plot_w, TOP + plot_h, "#333"),
        _text(LEFT + plot_w / 2, HEIGHT - 18, "seconds since the first request", "middle"),
        _text(LEFT, TOP - 10, "units sold", "middle", SOLD_COLOUR),
        _text(LEFT + plot_w, TOP - 10, "attempts/s", "middle", RATE_COLOUR),
        _polyline([(x(t), y(v, right_ticks)) for t, v in rates], RATE_COLOUR, 1.5),
        _polyline([(x(t), y(v, left_ticks)) for t, v in sold], SOLD_COLOUR, 2.5),
        "</svg>",
    ]
    return "\n".join(p for p in parts if p) + "\n"


def _line(x1: float, y1: float, x2: float, y2: float, colour: str) -> str:
    return f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" stroke="{colour}"/>'


def _text(x: float, y: float, content: str, anchor: str, colour: str = "#333") -> str:
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" fill="{colour}">{escape(content)}</text>'


def _polyline(points: Sequence[tuple[float, float]], colour: str, width: float) -> str:
    if not points:
        return ""
    coordinates = " ".join(f"{px:.1f},{py:.1f}" for px, py in points)
    return f'<polyline points="{coordinates}" fill="none" stroke="{colour}" stroke-width="{width}"/>'
