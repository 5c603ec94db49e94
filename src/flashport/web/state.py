"""What the storefront keeps per process: its templates, asset versions and read caches.

Built once by :func:`flashport.web.install` and kept on ``app.state.storefront``; the service context
(built later, in the lifespan) is read from ``app.state.ctx`` at each request.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
from starlette.requests import Request

from flashport.services.context import Context
from flashport.web import console_guard, console_labels, formatting, i18n
from flashport.web.cache import TtlCache
from flashport.web.page_models import EventCard, EventPage

TEMPLATES_DIR = Path(__file__).parent / "templates"

# Event pages (and the home listing) are rebuilt at most once a second per process; the live counts
# that open pages poll, at most twice a second. Stock moves faster than that only during a rush, and
# then the buy path itself is the judge of what is left.
PAGE_TTL = 1.0
LIVE_TTL = 0.5
# Which event an item belongs to never changes; the mapping only bounds memory.
ITEM_EVENT_TTL = 300.0


def build_templates(
    asset_versions: dict[str, str], language: i18n.Language = i18n.DEFAULT
) -> jinja2.Environment:
    """The templates of one language: Jinja2's i18n extension with that language's catalogue installed,
    and filters that write times, countries and countdowns as its readers do."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        auto_reload=False,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
        extensions=["jinja2.ext.i18n"],
    )
    env.install_gettext_translations(i18n.translations(language.code), newstyle=True)  # type: ignore[attr-defined]
    locale = language.babel
    unit = formatting.day_unit(locale)
    env.filters.update(formatting.FILTERS)
    env.filters["when"] = lambda moment: formatting.china_time(moment, locale)
    # The console's times: China time, as the storefront's, with the zone said (staff also read UTC logs).
    zoned = i18n.translations(language.code).gettext("%(time)s (China time)")
    env.filters["console_time"] = lambda moment: zoned % {"time": formatting.china_time(moment, locale)}
    env.filters["console_time_s"] = lambda moment: (
        zoned % {"time": formatting.china_time(moment, locale, seconds=True)}
    )
    if language is not i18n.EN:
        env.filters["country"] = lambda code: formatting.country_in(code, locale)
    env.globals["asset"] = lambda path: f"/static/{path}?v={asset_versions.get(path, '0')}"
    env.globals["countdown"] = lambda target, now: formatting.countdown(target, now, unit)
    env.globals["percent_left"] = formatting.percent_left
    env.globals["language"] = language
    env.globals["languages"] = i18n.LANGUAGES
    env.globals["day_unit"] = unit
    env.globals["console_sections"] = console_guard.sections_for  # the console's navigation, by role
    env.filters["label"] = lambda code: console_labels.label(language, code)  # a state's words (console)
    return env


@dataclass(frozen=True)
class Templates:
    """One template environment per language, built once."""

    by_code: dict[str, jinja2.Environment]

    @classmethod
    def build(cls, asset_versions: dict[str, str]) -> Templates:
        return cls({lang.code: build_templates(asset_versions, lang) for lang in i18n.LANGUAGES})

    def for_language(self, language: i18n.Language) -> jinja2.Environment:
        return self.by_code[language.code]


@dataclass
class Storefront:
    templates: Templates
    # The caches' clock (monotonic seconds); tests pass one they move by hand instead of waiting a TTL out.
    clock: Callable[[], float] = time.monotonic
    listings: TtlCache[list[EventCard]] = field(init=False)
    event_pages: TtlCache[EventPage] = field(init=False)
    live_counts: TtlCache[dict[str, Any]] = field(init=False)
    item_events: TtlCache[int] = field(init=False)

    def __post_init__(self) -> None:
        self.listings = TtlCache(PAGE_TTL, clock=self.clock)
        self.event_pages = TtlCache(PAGE_TTL, clock=self.clock)
        self.live_counts = TtlCache(LIVE_TTL, clock=self.clock)
        self.item_events = TtlCache(ITEM_EVENT_TTL, max_entries=50_000, clock=self.clock)


def storefront(request: Request) -> Storefront:
    found: Storefront = request.app.state.storefront
    return found


def service_context(request: Request) -> Context:
    ctx: Context = request.app.state.ctx
    return ctx
