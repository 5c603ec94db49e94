"""Bearer tokens: HS256 JSON Web Tokens issued at log-in and checked on every authenticated request,
the buy path included, so the check needs no database and stays cheap.

A token names its user's session version (``ver``). Log-out, a password change and deactivation raise
the version in the database and publish it; every process keeps the versions in a revocation list
(:mod:`flashport.services.accounts.sessions`) and refuses a token older than its user's version. Signed
with the current secret; the previous secrets of a rotation (``FLASHPORT_PREVIOUS_SECRET_KEYS``) are
still accepted."""

from __future__ import annotations

import binascii
import hashlib
import hmac
from datetime import datetime, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import jwt
import orjson

from flashport.domain.accounts import Principal, Role
from flashport.domain.errors import Unauthenticated
from flashport.settings import Settings

if TYPE_CHECKING:
    from flashport.adapters.session_revocations import RevocationList

TOKEN_ALGORITHM = "HS256"
_URLSAFE = bytes.maketrans(b"-_", b"+/")


def issue_token(settings: Settings, principal: Principal, now: datetime) -> str:
    """A token naming ``principal`` and its session version, valid ``token_ttl_seconds`` from ``now``."""
    claims = {
        "sub": str(principal.user_id),
        "role": principal.role.value,
        "sup": principal.supplier_id,
        "ver": principal.session_version,
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(seconds=settings.token_ttl_seconds)).timestamp()),
    }
    return jwt.encode(claims, settings.keys.secret, algorithm=TOKEN_ALGORITHM)


def verify_token(
    settings: Settings, token: str, now: datetime, revoked: RevocationList | None = None
) -> Principal:
    """Signature (HS256 only, any key of the keyring), expiry against ``now``, required claims, and,
    given ``revoked`` (every request's check passes it), the user's session still open. No database
    call: the revocation list is this process's cache. Any fault is :class:`Unauthenticated`
    ``invalid_token``."""
    try:
        claims = _claims_under_any(token, settings.keys.secrets)
        expires, version = claims["exp"], claims["ver"]
        if not _is_int(expires) or expires <= now.timestamp() or not _is_int(version):
            raise Unauthenticated("token is expired", code="invalid_token")
        who = Principal(int(claims["sub"]), Role(claims["role"]), claims.get("sup"), version)
    except (binascii.Error, orjson.JSONDecodeError, UnicodeError, ValueError, KeyError, TypeError) as exc:
        raise Unauthenticated("token is invalid or expired", code="invalid_token") from exc
    if revoked is not None and not revoked.is_open(who.user_id, who.session_version):
        raise Unauthenticated("this session has ended: log in again", code="invalid_token")
    return who


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _claims_under_any(token: str, secrets: tuple[str, ...]) -> Any:
    """The claims of a token signed with any of ``secrets`` (the current one is tried first)."""
    for secret in secrets[:-1]:
        try:
            return _signed_claims(token, secret)
        except BadSignature:
            continue
    return _signed_claims(token, secrets[-1])


class BadSignature(ValueError):
    """The token is well formed but not signed with this key."""


@lru_cache(maxsize=4)
def _prepared_key(secret: str) -> hmac.HMAC:
    """An HMAC-SHA256 already keyed with ``secret``: keying hashes the padded key twice, and every
    check copies this state instead of doing that again. A few entries: one secret per process, more
    only in tests."""
    return hmac.new(secret.encode(), digestmod=hashlib.sha256)


def _segment(part: bytes) -> bytes:
    """A base64url segment of a compact JWS, strictly: any character outside the alphabet is an error
    (the lenient decoder would skip it and let two spellings verify as one token)."""
    return binascii.a2b_base64(part.translate(_URLSAFE) + b"=" * (-len(part) % 4), strict_mode=True)


def _signed_claims(token: str, secret: str) -> Any:
    """The claims of an HS256 compact JWS (RFC 7515) signed with ``secret``, or ValueError.

    Tokens are issued by PyJWT (:func:`issue_token`); this checks them without PyJWT's general
    machinery, which cost 54 µs a token on the buy path (stdlib JSON for the header, algorithm lookup
    and key screening per call) where this costs about 8 µs. Only what the platform issues passes: header
    ``alg`` exactly HS256 (no ``none``, no other algorithm, no ``crit`` or unencoded-payload options), an
    HMAC-SHA256 signature over the first two segments compared in constant time."""
    raw = token.encode("ascii")
    signing_input, dot, signature = raw.rpartition(b".")
    header_part, _, payload_part = signing_input.partition(b".")
    if not dot or not header_part or not payload_part or b"." in payload_part:
        raise ValueError("not a compact JWS")
    header = orjson.loads(_segment(header_part))
    if (
        not isinstance(header, dict)
        or header.get("alg") != TOKEN_ALGORITHM
        or "crit" in header
        or "b64" in header
    ):
        raise ValueError("not an HS256 token")
    mac = _prepared_key(secret).copy()
    mac.update(signing_input)
    if not hmac.compare_digest(mac.digest(), _segment(signature)):
        raise BadSignature("bad signature")
    return orjson.loads(_segment(payload_part))
