"""The simulator's secret, and what it protects: documents on file are kept encrypted (they carry
buyers' ID numbers), a buyer's yearly total is keyed by an HMAC of the ID number, and a redelivered
message is recognised by an HMAC of its bytes (encryption is not deterministic).

The secret is ``FLASHPORT_CUSTOMS_SIM_SECRET`` or, when unset, a random one kept beside the record
(``secret.key``, readable by its owner only), so a restart reads what it wrote.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

SECRET_BYTES = 32


class Sealer:
    def __init__(self, secret: bytes) -> None:
        self._secret = secret
        fernet_key = hmac.new(secret, b"customs-sim documents", hashlib.sha256).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(fernet_key))

    def seal(self, message: bytes) -> bytes:
        return self._fernet.encrypt(message)

    def open(self, sealed: bytes) -> bytes:
        try:
            return self._fernet.decrypt(sealed)
        except InvalidToken as exc:
            raise ValueError("a document on file does not open with this simulator's secret") from exc

    def id_key(self, id_number: str) -> str:
        """The key of a buyer's yearly total: HMAC-SHA256 of the ID number under the secret."""
        return hmac.new(self._secret, b"id:" + id_number.encode(), hashlib.sha256).hexdigest()

    def digest(self, message: bytes) -> str:
        return hmac.new(self._secret, b"message:" + message, hashlib.sha256).hexdigest()


def load_secret(configured: str | None, file: Path) -> bytes:
    """The configured secret, else the one in ``file`` (made on first start)."""
    if configured:
        return configured.encode()
    if file.exists():
        return file.read_bytes()
    file.parent.mkdir(parents=True, exist_ok=True)
    made = secrets.token_bytes(SECRET_BYTES)
    draft = file.with_name(f"{file.name}.{os.getpid()}.{secrets.token_hex(4)}")
    descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as out:
        out.write(made)
    try:
        os.link(draft, file)  # whole or not at all; fails if another process was first
    except FileExistsError:
        made = file.read_bytes()
    finally:
        draft.unlink()
    return made
