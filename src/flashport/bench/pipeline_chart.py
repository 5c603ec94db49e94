"""An SVG chart of a pipeline run: orders that reached each stage over time, one line per stage, with a
dashed line where the workers started. Hand-written SVG, like the record bench's chart (chart.py)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from xml.sax.saxutils import escape

from flashport.bench.chart import nice_ticks, short_number

WIDTH, HEIGHT = 960, 520
LEFT, RIGHT, TOP, BOTTOM = 80, 150, 56, 64
COLOURS = {
    "paid": "#6c757d",
    "declared": "#1f77b4",
    "received": "#17becf",
    "matched": "#9467bd",
    "released": "#ff7f0e",
    "shipped": "#0b6e4f",
}


def stages_svg(
    series: Mapping[str, Sequence[tuple[float, int]]], *, title: str, orders: int, workers_started_s: float
) -> str:
    end = max((points[-1][0] for points in series.values() if points), default=1.0)
    x_ticks = nice_ticks(max(end, workers_started_s, 1.0), count=8)
    y_ticks = nice_ticks(max(orders, 1))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(t: float) -> float:
        return LEFT + plot_w * t / x_ticks[-1]

    def y(value: float) -> float:
        return TOP + plot_h * (1 - value / y_ticks[-1])

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="13">',
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>',
        f'<text x="{(LEFT + LEFT + plot_w) / 2}" y="30" text-anchor="middle" font-size="17">'
        f"{escape(title)}</text>",
    ]
    for t in x_ticks:
        parts.append(_line(x(t), TOP, x(t), TOP + plot_h, "#e5e5e5"))
        parts.append(_text(x(t), TOP + plot_h + 20, short_number(t), "middle"))
    for v in y_ticks:
        parts.append(_line(LEFT, y(v), LEFT + plot_w, y(v), "#e5e5e5"))
        parts.append(_text(LEFT - 8, y(v) + 4, short_number(v), "end"))
    parts += [
        _line(LEFT, TOP, LEFT, TOP + plot_h, "#333"),
        _line(LEFT, TOP + plot_h, LEFT + plot_w, TOP + plot_h, "#333"),
        _text(LEFT + plot_w / 2, HEIGHT - 18, "seconds since the first payment", "middle"),
        _text(LEFT, TOP - 10, "orders", "middle"),
        f'<line x1="{x(workers_started_s):.1f}" y1="{TOP}" x2="{x(workers_started_s):.1f}" '
        f'y2="{TOP + plot_h}" stroke="#333" stroke-dasharray="5,4"/>',
        _text(x(workers_started_s) + 4, TOP + 14, "workers start", "start"),
    ]
    for row, (stage, colour) in enumerate(COLOURS.items()):
        points = series.get(stage, [])
        if points:
            coordinates = " ".join(f"{x(t):.1f},{y(v):.1f}" for t, v in points)
            parts.append(f'<polyline points="{coordinates}" fill="none" stroke="{colour}" stroke-width="2"/>')
        ly = TOP + 20 + 22 * row
        parts.append(_line(LEFT + plot_w + 16, ly - 4, LEFT + plot_w + 40, ly - 4, colour, 3))
        parts.append(_text(LEFT + plot_w + 46, ly, stage, "start", colour))
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def _line(x1: float, y1: float, x2: float, y2: float, colour: str, width: float = 1) -> str:
    return (
        f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" stroke="{colour}" '
        f'stroke-width="{width}"/>'
    )


def _text(x: float, y: float, content: str, anchor: str, colour: str = "#333") -> str:
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" fill="{colour}">{escape(content)}</text>'
