"""The sandbox's RSA key pairs, made on first start and kept in ``data_dir/sandbox-pay/``.

Two pairs live there: the provider's (it signs notifications and responses) and the demo merchant's (the
platform signs its requests with it in development). A private key file is the truth; its public file
is derived from it, so a crash between the two writes, or two processes starting at once, can never
leave a public key that does not match its private key.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization

from flashport.adapters.payments import alipay_protocol


@dataclass(frozen=True)
class SandboxKeys:
    provider_private: str
    provider_public: str
    merchant_private: str
    merchant_public: str


def ensure_keys(data_dir: Path) -> SandboxKeys:
    """Load the two key pairs from ``data_dir/sandbox-pay/``, creating whatever is missing."""
    folder = data_dir / "sandbox-pay"
    folder.mkdir(parents=True, exist_ok=True)
    provider_private, provider_public = _ensure_pair(folder, "provider")
    merchant_private, merchant_public = _ensure_pair(folder, "merchant")
    return SandboxKeys(provider_private, provider_public, merchant_private, merchant_public)


def _ensure_pair(folder: Path, owner: str) -> tuple[str, str]:
    private_path = folder / f"{owner}_private.pem"
    if not private_path.exists():
        _create_exclusively(private_path, alipay_protocol.generate_keypair()[0], mode=0o600)
    private = private_path.read_text()
    public = _public_pem(private)
    public_path = folder / f"{owner}_public.pem"
    if not public_path.exists() or public_path.read_text() != public:
        _replace(public_path, public, mode=0o644)
    return private, public


def _public_pem(private: str) -> str:
    key = alipay_protocol.load_private_key(private).public_key()
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def _write_temporary(path: Path, text: str, mode: int) -> Path:
    """A fully written, fsynced sibling file, created with ``mode`` (never readable by others first)."""
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "w") as file:
        file.write(text)
        file.flush()
        os.fsync(file.fileno())
    return temporary


def _create_exclusively(path: Path, text: str, mode: int) -> None:
    """Publish ``text`` at ``path`` unless another process got there first (then keep theirs)."""
    temporary = _write_temporary(path, text, mode)
    try:
        os.link(temporary, path)  # atomic, and fails if the file exists: the first writer wins
    except FileExistsError:
        pass
    finally:
        temporary.unlink()


def _replace(path: Path, text: str, mode: int) -> None:
    os.replace(_write_temporary(path, text, mode), path)
