"""How the storefront writes money, times, countries and countdowns (Jinja filters).

Money is ``¥1,234.50`` in both languages. Times are China time (Asia/Shanghai, where the buyers and
the sales are), written per language with Babel (``2026年12月3日 14:05`` or ``3 Dec 2026, 14:05``);
``<time datetime>`` keeps the UTC instant for machines. Country names come from Babel's CLDR data in
the reader's language. Customs times (receipts) are shown as customs states them, in China time to
the millisecond (:func:`china_text`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from functools import lru_cache

import pycountry
from babel import Locale
from babel.dates import format_datetime, get_timezone

from flashport.domain.money import to_fen

CHINA_TIME = get_timezone("Asia/Shanghai")
# Per Babel locale: the date-and-time pattern and the unit after a countdown's days.
_TIME_PATTERNS = {"zh_Hans_CN": "yyyy年M月d日 HH:mm", "en_GB": "d MMM yyyy, HH:mm"}
_DAY_UNITS = {"zh_Hans_CN": "天", "en_GB": "d"}


def fen(amount_fen: int) -> str:
    """``129900`` -> ``"¥1,299.00"``: whole fen, so no rounding happens here."""
    sign = "-" if amount_fen < 0 else ""
    whole, cents = divmod(abs(amount_fen), 100)
    return f"{sign}¥{whole:,}.{cents:02d}"


def yuan(amount: str | Decimal) -> str:
    """A two-decimal yuan amount as the services give it (``"129.00"``) -> ``"¥129.00"``."""
    return fen(to_fen(amount))


def iso(moment: datetime) -> str:
    """UTC ISO 8601 with a ``Z``, to the second: what ``<time datetime>`` and the scripts read."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_ms(moment: datetime) -> str:
    """Like :func:`iso` with milliseconds: the server time that pages set their clocks by."""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def china_text(moment: datetime) -> str:
    """A customs time as customs wrote it, in China (UTC+8, no daylight saving), to the millisecond:
    receipts are read against the messages' appTime and declTime, which are China time."""
    local = moment.astimezone(CHINA_TIME)
    return local.strftime("%d %b %Y, %H:%M:%S.") + f"{local.microsecond // 1000:03d} China time"


def china_time(moment: datetime, babel_locale: str = "en_GB", *, seconds: bool = False) -> str:
    """A moment in China time, as its readers write it: ``2026年12月3日 14:05`` / ``3 Dec 2026, 14:05``
    (``seconds``: ``14:05:09``)."""
    pattern = _TIME_PATTERNS.get(babel_locale, _TIME_PATTERNS["en_GB"]) + (":ss" if seconds else "")
    return format_datetime(moment.astimezone(UTC), pattern, tzinfo=CHINA_TIME, locale=babel_locale)


def day_unit(babel_locale: str) -> str:
    return _DAY_UNITS.get(babel_locale, "d")


def countdown(target: datetime, now: datetime, unit: str = "d") -> str:
    """``"2d 03:14:07"`` (``"2天 03:14:07"``); the scripts keep it ticking from the server's clock."""
    seconds = max(0, int((target - now).total_seconds()))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    clock = f"{hours:02d}:{minutes:02d}:{seconds:02d}"
    return f"{days}{unit} {clock}" if days else clock


@lru_cache(maxsize=512)
def country(code: str) -> str:
    """``"NZ"`` -> ``"New Zealand"``; an unknown code is shown as it is."""
    found = pycountry.countries.get(alpha_2=code.upper())
    if found is None:
        return code
    return str(getattr(found, "common_name", found.name))


@lru_cache(maxsize=1024)
def country_in(code: str, babel_locale: str) -> str:
    """``"NZ"`` -> ``"新西兰"`` / ``"New Zealand"``: CLDR's name in the reader's language."""
    found = Locale.parse(babel_locale).territories.get(code.upper())
    return str(found) if found else country(code)


def percent_left(remaining: int, quantity: int) -> int:
    return 0 if quantity <= 0 else round(remaining * 100 / quantity)


FILTERS = {
    "fen": fen,
    "yuan": yuan,
    "iso": iso,
    "china_text": china_text,
    "country": country,
}
