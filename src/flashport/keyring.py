"""The deployment's keys: the secret that signs tokens and cookies, the Fernet keys that seal ID
numbers and the key of the ID-number lookup hash, each with the previous ones still accepted during a
rotation.

Nothing in the source signs anything. In production every key is a setting (``settings.py`` refuses to
start without them). Elsewhere a key left unset is made at random on first use and kept in
``data_dir/secrets.json`` (mode 0600), so every process of one deployment (API processes, the worker,
the tests' subprocesses) reads the same keys, and a fresh data directory gets fresh ones.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

SECRETS_FILE = "secrets.json"
_GENERATED = ("secret_key", "identity_key", "identity_hash_key")


@dataclass(frozen=True)
class Keyring:
    """``secrets`` and ``identity_keys`` list the current key first, then the previous ones: new
    tokens, cookies and sealed numbers use the first; checks and decryption accept any of them."""

    secrets: tuple[str, ...]
    identity_keys: tuple[str, ...]
    identity_hash_key: str

    @property
    def secret(self) -> str:
        return self.secrets[0]


def split_keys(value: str) -> tuple[str, ...]:
    """A comma-separated list of keys (``FLASHPORT_PREVIOUS_*``), blanks dropped."""
    return tuple(part.strip() for part in value.split(",") if part.strip())


def build_keyring(
    data_dir: Path,
    *,
    secret_key: str | None,
    previous_secret_keys: str,
    identity_key: str | None,
    previous_identity_keys: str,
    identity_hash_key: str | None,
) -> Keyring:
    """The keys from the settings, any unset one taken from (or first made in) the data directory."""
    given = {"secret_key": secret_key, "identity_key": identity_key, "identity_hash_key": identity_hash_key}
    stored = generated_keys(data_dir) if None in given.values() else {}
    chosen = {name: value or stored[name] for name, value in given.items()}
    return Keyring(
        secrets=(chosen["secret_key"], *split_keys(previous_secret_keys)),
        identity_keys=(chosen["identity_key"], *split_keys(previous_identity_keys)),
        identity_hash_key=chosen["identity_hash_key"],
    )


def generated_keys(data_dir: Path) -> dict[str, str]:
    """The keys kept in ``data_dir/secrets.json``, made on the first call. Several processes may start
    at once: the file is written whole under a temporary name and hard-linked into place, which fails
    for every process but the first; the others read the winner's keys."""
    path = data_dir / SECRETS_FILE
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        fresh = {
            "secret_key": secrets.token_urlsafe(48),
            "identity_key": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
            "identity_hash_key": secrets.token_urlsafe(48),
        }
        temporary = data_dir / f".{SECRETS_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as out:
            json.dump(fresh, out)
            out.flush()
            os.fsync(out.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass  # another process made them first: theirs are the deployment's
        finally:
            temporary.unlink()
    keys = json.loads(path.read_text())
    missing = [name for name in _GENERATED if not isinstance(keys.get(name), str)]
    if missing:
        raise RuntimeError(f"{path} lacks {', '.join(missing)}: remove it to make new keys")
    return {name: keys[name] for name in _GENERATED}
