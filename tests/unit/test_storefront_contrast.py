"""The storefront's text meets WCAG 2.1 AA contrast (4.5:1 for normal text) on what it is drawn on.

The stylesheet is parsed, not sampled: every rule that gives a text colour and a background is checked
as a pair; a text colour without a background of its own is checked on the page's surfaces (white cards
and the paper); the buttons' white text on each button background; and the event hero's white text on
every stop of the generated banner gradients. Colours are resolved through the ``:root`` variables,
and translucent white is composited on what is under it, as the browser does."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

CSS = Path(__file__).resolve().parents[2] / "src/flashport/web/static/css/storefront.css"
AA = 4.5

# Text that sits on a coloured surface another rule paints, checked by the tests named here rather than
# on the white cards and the paper: the hero's text (on the banner gradients), the header's button
# link (on the button's colour).
ON_COLOUR = re.compile(r"^\.event-hero|^\.event-stats|^\.event-description|^\.site-nav > a\.button")


def _css() -> str:
    return re.sub(r"/\*.*?\*/", "", CSS.read_text(), flags=re.S)


def _variables() -> dict[str, str]:
    root = _css().split(":root {", 1)[1].split("}", 1)[0]
    return dict(re.findall(r"--([\w-]+):\s*(#[0-9a-fA-F]{6})\s*;", root))


def _rules() -> list[tuple[str, str]]:
    """(selector, declarations) of every plain rule, media queries' included, :root's left out."""
    return [
        (" ".join(selector.split()), body)
        for selector, body in re.findall(r"([^{}]+)\{([^{}]*)\}", _css())
        if ":root" not in selector and not selector.strip().startswith("@")
    ]


def _last(body: str, prop: str) -> str | None:
    found = re.findall(rf"(?<![-\w]){prop}:\s*([^;]+)", body)
    return found[-1].replace("!important", "").strip() if found else None


def _background(body: str) -> str | None:
    """The rule's own background; a transparent one is none (the text shows on what is under it)."""
    found = _last(body, "background(?:-color)?")
    return None if found in (None, "transparent", "none") else found


def _solid(value: str | None, variables: dict[str, str]) -> str | None:
    """``#rrggbb`` for a solid colour (a variable, ``#rgb``, ``#fff``), None for anything else."""
    if value is None:
        return None
    named = re.fullmatch(r"var\(--([\w-]+)\)", value)
    value = variables.get(named.group(1), value) if named else value
    if value == "white":
        return "#ffffff"
    if re.fullmatch(r"#[0-9a-fA-F]{3}", value):
        return "#" + "".join(c * 2 for c in value[1:])
    return value.lower() if re.fullmatch(r"#[0-9a-fA-F]{6}", value) else None


def _rgb(colour: str) -> tuple[int, int, int]:
    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return r, g, b


def _luminance(colour: str) -> float:
    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(v) for v in _rgb(colour))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    light, dark = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def over(text: str, alpha: float, background: str) -> str:
    """A translucent colour as it shows on ``background``."""
    mixed = (round(alpha * t + (1 - alpha) * b) for t, b in zip(_rgb(text), _rgb(background), strict=True))
    return "#" + "".join(f"{v:02x}" for v in mixed)


def test_the_ratio_is_computed_as_wcag_defines_it() -> None:
    assert contrast("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast("#b0862f", "#ffffff") == pytest.approx(3.33, abs=0.01)  # the old gold, which failed
    assert contrast("#e11d48", "#f6f4ef") == pytest.approx(4.27, abs=0.01)  # the bright red on the paper
    assert over("#ffffff", 0.5, "#000000") == "#808080"


def test_the_parser_sees_the_rules_that_matter() -> None:
    selectors = {selector for selector, _ in _rules()}
    assert {".badge-live", ".status-badge-pending", '.button:disabled, .button[aria-disabled="true"]'} <= (
        selectors
    )
    assert len(selectors) > 200


@pytest.mark.parametrize("text", ["gold", "accent-text", "ink", "ink-soft", "muted", "ok", "warn"])
@pytest.mark.parametrize("background", ["card", "paper"])
def test_text_colours_meet_aa(text: str, background: str) -> None:
    colours = _variables()
    assert contrast(colours[text], colours[background]) >= AA


def test_every_text_on_its_own_background_meets_aa() -> None:
    colours, failures, pairs = _variables(), [], 0
    for selector, body in _rules():
        text = _solid(_last(body, "color"), colours)
        background = _solid(_background(body), colours)
        if text and background:
            pairs += 1
            ratio = contrast(text, background)
            if ratio < AA:
                failures.append(f"{selector}: {text} on {background} is {ratio:.2f}:1")
    assert pairs > 15 and not failures, failures


def test_text_without_a_background_of_its_own_meets_aa_on_cards_and_paper() -> None:
    colours, failures = _variables(), []
    for selector, body in _rules():
        text = _solid(_last(body, "color"), colours)
        if text is None or _background(body) is not None or ON_COLOUR.search(selector):
            continue
        for surface in ("card", "paper"):
            ratio = contrast(text, colours[surface])
            if ratio < AA:
                failures.append(f"{selector}: {text} on {surface} is {ratio:.2f}:1")
    assert not failures, failures


def test_white_button_text_meets_aa_on_every_button_background() -> None:
    colours, failures, checked = _variables(), [], 0
    for selector, body in _rules():
        if not selector.startswith(".button") or _last(body, "color") is not None:
            continue  # a button rule that sets its own text colour is checked as a pair above
        background = _solid(_background(body), colours)
        if background is None:
            continue
        checked += 1
        if (ratio := contrast("#ffffff", background)) < AA:
            failures.append(f"{selector}: white on {background} is {ratio:.2f}:1")
    assert checked >= 8 and not failures, failures


def test_the_event_heros_text_meets_aa_on_every_banner_gradient() -> None:
    css = _css()
    stops = re.findall(r"\.banner-gradient-\d+ \{ background: linear-gradient\(([^;]+)\); \}", css)
    assert len(stops) == 8
    texts = {"#ffffff": 1.0}
    for selector, body in _rules():
        if ON_COLOUR.search(selector) and selector.startswith((".event-hero", ".event-stats", ".event-desc")):
            found = re.fullmatch(r"rgba\(255, 255, 255, (\.\d+)\)", _last(body, "color") or "")
            if found:
                texts[f"white at {found.group(1)}"] = float(found.group(1))
    assert len(texts) >= 2, texts  # the hero's dimmed white is read, not skipped
    failures = []
    for gradient in stops:
        for stop in re.findall(r"#[0-9a-fA-F]{6}", gradient):
            for name, alpha in texts.items():
                ratio = contrast(over("#ffffff", alpha, stop), stop)
                if ratio < AA:
                    failures.append(f"{name} on {stop} is {ratio:.2f}:1")
    assert not failures, failures


def test_red_and_gold_text_use_the_accessible_colours() -> None:
    css = CSS.read_text()
    for selector in (".event-timer .countdown", ".sale-price", ".item-brand", ".eyebrow"):
        rules = re.findall(r"^\s*" + re.escape(selector) + r"\s*\{([^}]*)\}", css, re.MULTILINE)
        colours = [c for rule in rules for c in re.findall(r"(?<![-\w])color:\s*([^;]+);", rule)]
        assert colours, selector
        assert set(colours) <= {"var(--gold)", "var(--accent-text)"}, (selector, colours)
