"""Webhooks on the Standard Webhooks scheme (https://www.standardwebhooks.com), pure: secrets,
signatures, the retry schedule and what each answer of a receiver means."""

from __future__ import annotations

import base64
import enum
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

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


def check_endpoint_url(url: str) -> str:
    if not url.startswith(("https://", "http://")) or len(url) > 500:
        raise InvalidInput(
            "a webhook URL is http(s) and at most 500 characters",
            code="invalid_webhook_url",
            details=[FieldProblem("url", "http:// or https://")],
        )
    return url


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
