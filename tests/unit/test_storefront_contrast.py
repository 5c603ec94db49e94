"""The storefront's text colours meet WCAG 2.1 AA (4.5:1 for normal text) on the backgrounds they are
used on: the gold brand labels and the red prices and countdowns, on white cards and on the paper."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

CSS = Path(__file__).resolve().parents[2] / "src/flashport/web/static/css/storefront.css"


def _variables() -> dict[str, str]:
    root = CSS.read_text().split(":root {", 1)[1].split("}", 1)[0]
    return dict(re.findall(r"--([\w-]+):\s*(#[0-9a-fA-F]{6})\s*;", root))


def _luminance(colour: str) -> float:
    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast(a: str, b: str) -> float:
    light, dark = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def test_the_ratio_is_computed_as_wcag_defines_it() -> None:
    assert contrast("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast("#b0862f", "#ffffff") == pytest.approx(3.33, abs=0.01)  # the old gold, which failed


@pytest.mark.parametrize("text", ["gold", "accent-text", "ink-soft", "muted"])
@pytest.mark.parametrize("background", ["card", "paper"])
def test_text_colours_meet_aa(text: str, background: str) -> None:
    colours = _variables()
    assert contrast(colours[text], colours[background]) >= 4.5


def test_red_and_gold_text_use_the_accessible_colours() -> None:
    css = CSS.read_text()
    for selector in (".event-timer .countdown", ".sale-price", ".item-brand", ".eyebrow"):
        rules = re.findall(r"^\s*" + re.escape(selector) + r"\s*\{([^}]*)\}", css, re.MULTILINE)
        colours = [c for rule in rules for c in re.findall(r"(?<![-\w])color:\s*([^;]+);", rule)]
        assert colours, selector
        assert set(colours) <= {"var(--gold)", "var(--accent-text)"}, (selector, colours)
