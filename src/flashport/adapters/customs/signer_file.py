"""The key that signs the platform's inventory lists (CEB621), kept in one PEM file: private key then
certificate. A real enterprise key lives in a hardware token behind its own :class:`Signer`; this file
serves the demo, the simulator and tests, and is made on first use with owner-only permissions."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from flashport.ceb.signing import SoftwareKeySigner

_TEN_YEARS = timedelta(days=3650)


def load_or_create_signer(path: Path, common_name: str) -> SoftwareKeySigner:
    """The signer in ``path``, made first if there is none. Several processes starting at once agree on
    one key: each writes its own temporary file and links it into place, and only the first link wins."""
    if path.is_file():
        return read_signer(path)
    signer = SoftwareKeySigner.generate(common_name, valid_for=_TEN_YEARS)
    path.parent.mkdir(parents=True, exist_ok=True)
    key = signer.private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    cert = signer.certificate.public_bytes(serialization.Encoding.PEM)
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as out:
        out.write(key + cert)
    try:
        os.link(temporary, path)
    except FileExistsError:
        return read_signer(path)
    finally:
        temporary.unlink()
    return signer


def read_signer(path: Path) -> SoftwareKeySigner:
    pem = path.read_bytes()
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError(f"{path}: the signing key must be an RSA key")
    return SoftwareKeySigner(private_key=key, certificate=x509.load_pem_x509_certificate(pem))
