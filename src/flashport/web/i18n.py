"""The storefront's languages: Simplified Chinese first, English second.

Which one a visitor reads: the language switch they last used (the ``fp_lang`` cookie, a year long),
else the first of Chinese or English in their browser's ``Accept-Language``, else Chinese; the operator
console and the supplier portal follow the same choice. Messages come from Babel catalogues in
``locale/`` (``messages.pot`` extracted from the templates and the ``web`` package, one ``.po`` per
language, compiled to the ``.mo`` files that are loaded here); see README "Languages" for adding or
changing a translation.

Python code marks a text with :func:`N_` (extracted, translated later, where the request is known) or
translates it at once with :func:`tr` (the request's language).
"""

from __future__ import annotations

import gettext as stdlib_gettext
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from babel.support import Translations
from starlette.requests import Request
from starlette.responses import Response

LOCALE_DIR = Path(__file__).parent / "locale"
COOKIE = "fp_lang"
COOKIE_SECONDS = 365 * 24 * 3600


@dataclass(frozen=True)
class Language:
    code: str  # the catalogue's folder under locale/, and the Babel locale
    tag: str  # the BCP 47 tag: <html lang>, the cookie, the switch's links
    babel: str  # the Babel locale used for dates
    native: str  # the language's own name, shown by the switch


ZH = Language(code="zh_Hans", tag="zh-CN", babel="zh_Hans_CN", native="简体中文")
EN = Language(code="en", tag="en", babel="en_GB", native="English")
LANGUAGES = (ZH, EN)
DEFAULT = ZH
_BY_TAG = {language.tag.lower(): language for language in LANGUAGES}


def N_(message: str) -> str:
    """Mark a text for the catalogue without translating it here (it is translated where shown)."""
    return message


@lru_cache(maxsize=len(LANGUAGES))
def translations(code: str) -> stdlib_gettext.NullTranslations:
    """The compiled catalogue of a language (English falls back to the source texts)."""
    return Translations.load(str(LOCALE_DIR), [code], domain="messages")


def gettext_for(language: Language, message: str) -> str:
    return translations(language.code).gettext(message)


def language_of(tag: str | None) -> Language | None:
    """``zh``, ``zh-CN``, ``zh-Hans`` ... -> Chinese; ``en``, ``en-US`` ... -> English; else None."""
    if not tag:
        return None
    tag = tag.strip().lower()
    if tag in _BY_TAG:
        return _BY_TAG[tag]
    primary = tag.replace("_", "-").split("-")[0]
    return {"zh": ZH, "en": EN}.get(primary)


def from_accept_language(header: str) -> Language | None:
    """The preferred of our languages in an ``Accept-Language`` header (highest q first, ties in
    order), or None when it names neither."""
    ranked: list[tuple[float, int, Language]] = []
    for position, part in enumerate(header.split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        found = language_of(tag)
        if found is not None and quality > 0:
            ranked.append((-quality, position, found))
    return min(ranked, key=lambda entry: (entry[0], entry[1]))[2] if ranked else None


def request_language(request: Request) -> Language:
    """The language of this request, decided once and kept on ``request.state``."""
    cached = getattr(request.state, "language", None)
    if isinstance(cached, Language):
        return cached
    chosen = (
        language_of(request.cookies.get(COOKIE))
        or from_accept_language(request.headers.get("accept-language", ""))
        or DEFAULT
    )
    request.state.language = chosen
    return chosen


def tr(request: Request, message: str) -> str:
    """A text translated into the request's language."""
    return gettext_for(request_language(request), message)


def remember(request: Request, response: Response, language: Language) -> None:
    response.set_cookie(
        COOKIE,
        language.tag,
        max_age=COOKIE_SECONDS,
        path="/",
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )
