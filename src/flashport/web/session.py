"""The storefront session: a signed cookie holding who is logged in, the CSRF token and one flash message.

Why a cookie signed here rather than Starlette's SessionMiddleware: that middleware needs
``itsdangerous`` (not a dependency) and would run on every API request, the buy hot path included. The
cookie is ``base64url(json) "." base64url(HMAC-SHA256)``, keyed by a key derived from
the deployment's secret (keyring.py; the previous secrets of a rotation still verify): a client can read
it but neither forge nor alter it, so nothing secret goes in. It is HttpOnly, SameSite=Lax, and Secure
whenever the request came over https (behind a proxy trusted by ``FLASHPORT_FORWARDED_ALLOW_IPS``, as
the proxy says) or the public URL is https. It names the user's session version: once that session
ends (log-out, password change, deactivation) the cookie opens nothing, even a copy taken before.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

COOKIE = "fp_session"
MAX_COOKIE = 3800  # stay under the 4 KB that every browser keeps


@dataclass
class WebSession:
    data: dict[str, Any] = field(default_factory=dict)
    dirty: bool = False

    @property
    def user_id(self) -> int | None:
        uid = self.data.get("uid")
        return uid if isinstance(uid, int) else None

    @property
    def session_version(self) -> int:
        version = self.data.get("ver", 0)
        return version if isinstance(version, int) else -1

    @property
    def role(self) -> str | None:
        return self.data.get("role") if self.user_id is not None else None

    @property
    def name(self) -> str:
        return str(self.data.get("name", ""))

    @property
    def is_buyer(self) -> bool:
        return self.role == "buyer"

    def csrf_token(self) -> str:
        """The per-session token that every form and every script POST must send back."""
        token = self.data.get("csrf")
        if not isinstance(token, str):
            token = self.data["csrf"] = secrets.token_urlsafe(24)
            self.dirty = True
        return token

    def log_in(self, user_id: int, role: str, name: str, session_version: int) -> None:
        """A new session (and a new CSRF token) at log-in, so a token planted before log-in is worthless."""
        self.data = {
            "uid": user_id,
            "role": role,
            "name": name[:60],
            "ver": session_version,
            "csrf": secrets.token_urlsafe(24),
        }
        self.dirty = True

    def log_out(self) -> None:
        self.data = {}
        self.dirty = True

    def flash(self, kind: str, text: str) -> None:
        self.data["flash"] = [kind, text[:300]]
        self.dirty = True

    def pop_flash(self) -> tuple[str, str] | None:
        found = self.data.pop("flash", None)
        if not found:
            return None
        self.dirty = True
        return str(found[0]), str(found[1])


@lru_cache(maxsize=8)
def _key(secret: str) -> bytes:
    return hmac.new(secret.encode(), b"flashport.web.session.v1", hashlib.sha256).digest()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def encode(data: dict[str, Any], secret: str, max_age: int) -> str:
    body = _b64(json.dumps({**data, "exp": int(time.time()) + max_age}, separators=(",", ":")).encode())
    return f"{body}.{_b64(hmac.new(_key(secret), body.encode(), hashlib.sha256).digest())}"


def decode(value: str | None, secrets_: tuple[str, ...] | str) -> dict[str, Any]:
    """The session data, or an empty session for a missing, tampered, malformed or expired cookie.
    ``secrets_``: the current secret first, then those of a rotation still accepted."""
    if not value or len(value) > MAX_COOKIE or value.count(".") != 1:
        return {}
    body, signature = value.split(".")
    keys = (secrets_,) if isinstance(secrets_, str) else secrets_
    expected = [_b64(hmac.new(_key(key), body.encode(), hashlib.sha256).digest()) for key in keys]
    if not any(hmac.compare_digest(signature, one) for one in expected):
        return {}
    try:
        data = json.loads(_unb64(body))
    except (binascii.Error, ValueError):
        return {}
    exp = data.pop("exp", None) if isinstance(data, dict) else None
    if not isinstance(exp, int) or exp <= time.time():
        return {}
    return data


def load(request: Request, secrets_: tuple[str, ...]) -> WebSession:
    return WebSession(decode(request.cookies.get(COOKIE), secrets_))


def save(
    request: Request,
    response: Response,
    session: WebSession,
    secret: str,
    max_age: int,
    *,
    always_secure: bool = False,
) -> None:
    """Write the cookie if the session changed (an unchanged session sends no Set-Cookie)."""
    if not session.dirty:
        return
    secure = always_secure or request.url.scheme == "https"
    if not session.data:
        response.delete_cookie(COOKIE, path="/", secure=secure, httponly=True, samesite="lax")
        return
    response.set_cookie(
        COOKIE,
        encode(session.data, secret, max_age),
        max_age=max_age,
        path="/",
        secure=secure,
        httponly=True,
        samesite="lax",
    )
