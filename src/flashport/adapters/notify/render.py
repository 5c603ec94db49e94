"""Messages rendered from templates (``templates/<kind>.txt``, blocks ``subject``, ``body`` and
``sms``) in the buyer's language, with the storefront's Babel catalogues: ``make translations``
extracts these templates and the texts below with the rest (``web/locale/babel.cfg``)."""

from __future__ import annotations

import gettext
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import jinja2
from babel.support import Translations

from flashport.domain.notifications import DEFAULT_LANGUAGE, Channel, Kind

TEMPLATES = Path(__file__).parent / "templates"
# The catalogues live with the storefront's; read as files, so this adapter imports nothing from web.
LOCALE_DIR = Path(__file__).parents[2] / "web" / "locale"
_CATALOGUE = {"zh-CN": "zh_Hans", "en": "en"}


def N_(message: str) -> str:
    return message


# A refund's reason in plain words (the reason codes of domain/payments.RefundReason and returns).
REASONS = {
    "late_payment": N_("your payment arrived after the order had expired, so the order could not be kept"),
    "duplicate_payment": N_("the order was paid twice; the second payment is returned"),
    "amount_mismatch": N_("the amount paid did not match the order"),
    "payer_mismatch": N_("the payer was not the buyer named on the order"),
    "annual_limit": N_("this order would have taken you past your yearly cross-border shopping limit"),
    "sale_cancelled": N_("the sale was called off"),
    "customs_rejected": N_("customs did not clear the order"),
    "returned": N_("you returned the parcel"),
    "buyer_cancelled": N_("you cancelled the order before customs released it"),
    "staff_refund": N_("our customer service refunded it for you"),
    # Why a cancellation did not go through (kind cancel_refused).
    "withdrawal_released_first": N_("customs had already released the parcel"),
    "withdrawal_refused": N_("customs refused to withdraw the declaration"),
}


@dataclass(frozen=True)
class Rendered:
    subject: str
    body: str


@lru_cache(maxsize=len(_CATALOGUE))
def _translations(language: str) -> gettext.NullTranslations:
    return Translations.load(str(LOCALE_DIR), [_CATALOGUE[language]], domain="messages")


@lru_cache(maxsize=len(_CATALOGUE))
def _environment(language: str) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        extensions=["jinja2.ext.i18n"],
        autoescape=False,  # plain text: e-mail bodies and SMS, never HTML
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=False,
    )
    env.install_gettext_translations(_translations(language), newstyle=True)  # type: ignore[attr-defined]
    return env


def _block(template: jinja2.Template, name: str, values: dict[str, str]) -> str:
    return "".join(template.blocks[name](template.new_context(values))).strip()


def render(kind: Kind, channel: Channel, language: str, values: dict[str, str]) -> Rendered:
    """The message of ``kind`` for ``channel`` in ``language`` (zh-CN when unknown)."""
    language = language if language in _CATALOGUE else DEFAULT_LANGUAGE
    env = _environment(language)
    template = env.get_template(f"{kind.value}.txt")
    blank = ("order_no", "amount", "logistics_no", "title", "link", "customs_info", "name")
    given = {name: "" for name in blank} | dict(values)
    if language == "zh-CN" and given.get("title_zh"):
        given["title"] = given["title_zh"]
    if "reason" in given:
        reason = REASONS.get(given["reason"])
        given["reason_text"] = _translations(language).gettext(reason) if reason else given["reason"]
    subject = _block(template, "subject", given)
    body = _block(template, "sms" if channel is Channel.SMS else "body", given)
    return Rendered(subject, body)
