"""Webhooks on the Standard Webhooks scheme (https://www.standardwebhooks.com), pure: secrets,
signatures, the retry schedule and what each answer of a receiver means."""

from __future__ import annotations

import base64
import enum
import hashlib
import hmac
import ipaddress
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from flashport.domain.errors import FieldProblem, InvalidInput

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32  # the scheme asks for 24 to 64
# After the first try fails: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h (about 28 h in all), then give up.
RETRY_SCHEDULE = (
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=10),
)
MAX_RETRY_AFTER = timedelta(hours=10)  # a receiver's Retry-After is honoured up to this
DISABLE_AFTER = timedelta(days=3)  # an endpoint failing without a success for this long is disabled


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def _key(secret: str) -> bytes:
    raw = secret.removeprefix(SECRET_PREFIX)
    return base64.b64decode(raw + "=" * (-len(raw) % 4))


def sign(secrets_: list[str], message_id: str, timestamp: int, body: str) -> str:
    """The ``webhook-signature`` header: ``v1,<base64 HMAC-SHA256 of id.timestamp.body>`` for each
    secret (the current one, and the previous one while a rotation overlaps), space-separated."""
    to_sign = f"{message_id}.{timestamp}.{body}".encode()
    return " ".join(
        "v1," + base64.b64encode(hmac.new(_key(s), to_sign, hashlib.sha256).digest()).decode()
        for s in secrets_
    )


# Cloud metadata services, refused even where private addresses are allowed for development. The
# link-local and private ones are refused anyway; 168.63.129.16 (Azure's host) is a public address.
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in ("169.254.169.254", "169.254.170.2", "100.100.100.200", "168.63.129.16", "fd00:ec2::254")
)


def _bad_url(message: str) -> InvalidInput:
    return InvalidInput(message, code="invalid_webhook_url", details=[FieldProblem("url", message)])


def check_endpoint_url(url: str, *, production: bool = False) -> str:
    """An absolute http(s) URL with a host and no credentials in it; https only in production."""
    if len(url) > 500:
        raise _bad_url("a webhook URL is at most 500 characters")
    parts = urlsplit(url)
    allowed = ("https",) if production else ("https", "http")
    if parts.scheme not in allowed:
        raise _bad_url("a webhook URL must be https://" if production else "http:// or https://")
    if not parts.hostname or parts.username is not None or parts.password is not None:
        raise _bad_url("a webhook URL names a host, with no user or password in it")
    try:
        parts.port  # noqa: B018 - raises on a port out of range
    except ValueError as exc:
        raise _bad_url("the port of a webhook URL is 1 to 65535") from exc
    return url


def address_refused(address: str, *, allow_private: bool) -> str | None:
    """Why a webhook may not be sent to ``address`` (an IP), or None when it may. Metadata services are
    always refused; loopback, private, link-local, shared and reserved addresses unless allowed."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip in METADATA_ADDRESSES:
        return f"{ip} is a cloud metadata address"
    if allow_private:
        return None
    if ip.is_multicast or ip.is_unspecified or not ip.is_global:
        return f"{ip} is not a public address (loopback, private, link-local or reserved)"
    return None


class Outcome(enum.StrEnum):
    DELIVERED = "delivered"
    RETRY = "retry"
    GONE = "gone"  # 410: the receiver says the endpoint is no more; disable it


@dataclass(frozen=True, slots=True)
class Verdict:
    outcome: Outcome
    retry_at: datetime | None  # RETRY: when; None when the schedule is spent (the delivery fails)


def judge(status: int | None, retry_after: str | None, attempts: int, now: datetime) -> Verdict:
    """What to do after try number ``attempts`` (1 for the first) answered ``status`` (None: no answer)."""
    if status is not None and 200 <= status < 300:
        return Verdict(Outcome.DELIVERED, None)
    if status == 410:
        return Verdict(Outcome.GONE, None)
    if attempts > len(RETRY_SCHEDULE):
        return Verdict(Outcome.RETRY, None)
    wait = RETRY_SCHEDULE[attempts - 1]
    if status in (429, 503) and retry_after is not None:
        asked = _seconds(retry_after)
        if asked is not None:
            wait = max(wait, min(asked, MAX_RETRY_AFTER))
    return Verdict(Outcome.RETRY, now + wait)


def _seconds(retry_after: str) -> timedelta | None:
    """Retry-After in seconds (the HTTP-date form is rare from webhook receivers and is ignored)."""
    value = retry_after.strip()
    return timedelta(seconds=int(value)) if value.isdigit() else None
