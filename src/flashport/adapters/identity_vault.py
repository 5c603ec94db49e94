"""ID numbers at rest: encrypted with Fernet (AES-128-CBC + HMAC-SHA256, from ``cryptography``), shown
masked everywhere. The key is ``FLASHPORT_IDENTITY_KEY``; outside production a key is derived from the
secret key so the demo works without set-up."""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet

from flashport.settings import Settings


class IdentityVault:
    def __init__(self, settings: Settings) -> None:
        key = settings.identity_key
        if key is None:
            digest = hashlib.sha256(f"identity:{settings.secret_key}".encode()).digest()
            key = base64.urlsafe_b64encode(digest).decode()
        self._fernet = Fernet(key.encode())

    def seal(self, id_number: str) -> str:
        return self._fernet.encrypt(id_number.encode()).decode()

    def open(self, sealed: str) -> str:
        return self._fernet.decrypt(sealed.encode()).decode()


def mask_id_number(id_number: str) -> str:
    """``110101199003074258`` -> ``1101**********4258``: region kept, birth date hidden."""
    if len(id_number) <= 8:
        return "*" * len(id_number)
    return id_number[:4] + "*" * (len(id_number) - 8) + id_number[-4:]
