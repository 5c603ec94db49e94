"""What the notifier tells buyers, decided purely: the kinds of message, which outbox record makes
which message, on which channels, and who on a waitlist is told when units come back.

No I/O here: :mod:`flashport.services.notify` reads the outbox and the tables, asks these functions,
and writes what they decide."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any


class Kind(enum.StrEnum):
    SALE_OPENS = "sale_opens"  # "remind me" for an upcoming sale, sent when it opens
    PAY_SOON = "pay_soon"  # five minutes left to pay
    PAID = "paid"
    RELEASED = "released"  # released by customs
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    REFUNDED = "refunded"
    CANCEL_REFUSED = "cancel_refused"  # customs refused to withdraw the declaration: the order goes on
    WAITLIST = "waitlist"  # units of a sold-out item came back
    WELCOME = "welcome"  # the account was made: a welcome
    REGISTRATION_ATTEMPT = "registration_attempt"  # someone registered again with an account's address


class Channel(enum.StrEnum):
    EMAIL = "email"
    SMS = "sms"


# About the account itself, not an order: sent whatever kinds the buyer turned off (the welcome comes
# before any choice; an attempt to register with their address is for their safety).
ACCOUNT_KINDS = frozenset({Kind.WELCOME, Kind.REGISTRATION_ATTEMPT})
# The kinds a buyer can turn off, in the order a settings screen shows them.
MUTABLE_KINDS = tuple(k for k in Kind if k not in ACCOUNT_KINDS)
# ``mail.requested`` records of the accounts service (adapters/mail.py): template -> kind.
_BY_MAIL_TEMPLATE = {
    "account.created": Kind.WELCOME,
    "account.registration_attempt": Kind.REGISTRATION_ATTEMPT,
}
MAIL_REQUESTED = "mail.requested"
PAY_SOON_BEFORE = timedelta(minutes=5)
# Urgent kinds go by SMS too when the buyer gave a mobile number: minutes matter for them.
_SMS_KINDS = frozenset({Kind.SALE_OPENS, Kind.PAY_SOON, Kind.WAITLIST})
# Outbox record type -> the kind of message the order's buyer gets. ``shipment.delivered`` comes from the
# tracking work. A return's or a cancellation's money goes back through the provider like every refund,
# so the buyer is told once, at ``refund.succeeded`` (its reason says why), not at ``aftersale.refunded``.
_BY_RECORD = {
    "order.paid": Kind.PAID,
    "declaration.released": Kind.RELEASED,
    "order.shipped": Kind.SHIPPED,
    "shipment.delivered": Kind.DELIVERED,
    "refund.succeeded": Kind.REFUNDED,
    # Told once: the withdrawal is answered by a conditional move to ``refused``, which emits this once.
    "aftersale.withdrawal_refused": Kind.CANCEL_REFUSED,
}
# Records that put units of a sale item back on sale (the waitlist's trigger).
UNITS_BACK = frozenset({"order.expired", "order.cancelled"})
LANGUAGES = ("zh-CN", "en")
DEFAULT_LANGUAGE = "zh-CN"


def kind_of(record_type: str) -> Kind | None:
    return _BY_RECORD.get(record_type)


def record_types() -> frozenset[str]:
    """Every outbox record type the notifier acts on."""
    return frozenset(_BY_RECORD) | UNITS_BACK | {MAIL_REQUESTED}


def kind_of_mail(template: str) -> Kind | None:
    """The kind of an account mail the accounts service asked for (``mail.requested``), if sent."""
    return _BY_MAIL_TEMPLATE.get(template)


def channels(kind: Kind, *, has_mobile: bool) -> tuple[Channel, ...]:
    if has_mobile and kind in _SMS_KINDS:
        return (Channel.EMAIL, Channel.SMS)
    return (Channel.EMAIL,)


@dataclass(frozen=True)
class Preferences:
    """A buyer's choices: the language of their messages, an optional mobile number for SMS, and the
    kinds they turned off (everything is on until turned off)."""

    language: str = DEFAULT_LANGUAGE
    mobile: str | None = None
    muted: frozenset[Kind] = frozenset()

    def wants(self, kind: Kind) -> bool:
        return kind in ACCOUNT_KINDS or kind not in self.muted


def message_values(record_type: str, payload: Mapping[str, Any]) -> dict[str, str]:
    """The values a message shows, taken from a record's payload (only plain strings travel on)."""
    values = {"order_no": str(payload.get("order_no", ""))}
    for name in ("amount", "logistics_no", "reason", "at"):
        if payload.get(name) is not None:
            values[name] = str(payload[name])
    if record_type == "aftersale.refunded":
        values.setdefault("reason", "returned")
    if record_type == "aftersale.withdrawal_refused":
        values.update(_withdrawal_refusal(payload))
    return values


def _withdrawal_refusal(payload: Mapping[str, Any]) -> dict[str, str]:
    """Why customs kept a declaration the buyer asked to withdraw: with no customs status the release
    was read before the CEB623 could be sent; else customs' CEB624 refused it, in its own words."""
    if payload.get("return_status") is None:
        return {"reason": "withdrawal_released_first", "customs_info": ""}
    return {"reason": "withdrawal_refused", "customs_info": str(payload.get("reason") or "")}


@dataclass(frozen=True)
class WaitingBuyer:
    place_id: int  # the waitlist row; lower joined first
    buyer_id: int


def to_tell(waiting: Sequence[WaitingBuyer], units_back: int) -> list[WaitingBuyer]:
    """First come, first served: as many waiting buyers as units came back, in order of joining."""
    if units_back <= 0:
        return []
    return sorted(waiting, key=lambda w: w.place_id)[:units_back]


def retry_delay(attempts: int) -> timedelta:
    """Backoff after the ``attempts``-th failed send: 30 s doubling, at most an hour."""
    return timedelta(seconds=min(30 * 2 ** max(attempts - 1, 0), 3600))


MAX_ATTEMPTS = 8


def parse_kinds(names: Iterable[str]) -> frozenset[Kind]:
    """Kinds from their names, unknown names ignored (a kind removed later must not break a reader)."""
    known = {k.value: k for k in Kind}
    return frozenset(known[n] for n in names if n in known)
