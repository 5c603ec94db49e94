"""Partner credentials at rest: webhook signing secrets are kept sealed with Fernet (AES-128-CBC +
HMAC-SHA256, from ``cryptography``), never in clear, and opened only to sign a delivery.

The key is ``FLASHPORT_PARTNER_SECRETS_KEY``: one Fernet key, or several comma-separated with the newest
first, so a key can be rotated (values sealed under an older key still open; new ones use the first).
Unset, a key is derived from ``FLASHPORT_SECRET_KEY`` (32+ random characters in production)."""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, MultiFernet

from flashport.settings import Settings


def derived_key(secret_key: str) -> str:
    digest = hashlib.sha256(f"partner-secrets:{secret_key}".encode()).digest()
    return base64.urlsafe_b64encode(digest).decode()


class SecretBox:
    def __init__(self, settings: Settings) -> None:
        given = settings.partner_secrets_key
        keys = [k.strip() for k in given.split(",") if k.strip()] if given else []
        # Unset: derived from the secret key, the current one first; the previous ones still open what
        # was sealed before a rotation of the secret key (FLASHPORT_PREVIOUS_SECRET_KEYS).
        if not keys:
            keys = [derived_key(secret) for secret in settings.keys.secrets]
        self._fernet = MultiFernet([Fernet(k.encode()) for k in keys])

    def seal(self, secret: str) -> str:
        return self._fernet.encrypt(secret.encode()).decode()

    def open(self, sealed: str) -> str:
        return self._fernet.decrypt(sealed.encode()).decode()
