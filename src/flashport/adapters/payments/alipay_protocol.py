"""The public conventions of Alipay's open platform, as far as Flashport speaks them (both as the
merchant and, in the sandbox, as the provider). Pure functions: no I/O.

- Signature type RSA2: SHA256withRSA (PKCS#1 v1.5), base64.
- A *request* is signed over its parameters sorted by name, ``sign`` left out and empty values left
  out, joined as ``k=v&k=v`` with the raw (not URL-encoded) values.
- An asynchronous *notification* is verified over its parameters sorted by name with ``sign`` and
  ``sign_type`` left out.
- A synchronous *response* is JSON ``{"<method>_response": {...}, "sign": "..."}``; the signature
  covers the exact text of the ``<method>_response`` object as it appears in the body.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from flashport.domain.money import format_fen

SIGN_TYPE = "RSA2"
CHARSET = "utf-8"
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"  # Alipay's timestamps, in China Standard Time
SUCCESS_CODE = "10000"
PAID_STATUSES = frozenset({"TRADE_SUCCESS", "TRADE_FINISHED"})


def generate_keypair(bits: int = 2048) -> tuple[str, str]:
    """(private key PEM, public key PEM)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


def _pem(text: str, kind: str) -> bytes:
    """Accept a PEM, or the bare base64 body Alipay's console shows, and return PEM bytes."""
    text = text.strip()
    if text.startswith("-----BEGIN"):
        return text.encode()
    body = "\n".join(text[i : i + 64] for i in range(0, len(text), 64))
    return f"-----BEGIN {kind}-----\n{body}\n-----END {kind}-----\n".encode()


# Parsing a private key checks it (about 70 ms for RSA-2048), and every context, sandbox and test loads
# the same few keys again: each text is parsed once per process. Key objects are immutable.
@functools.lru_cache(maxsize=64)
def load_private_key(text: str) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(_pem(text, "PRIVATE KEY"), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("an RSA private key is required for RSA2")
    return key


@functools.lru_cache(maxsize=256)
def load_public_key(text: str) -> rsa.RSAPublicKey:
    key = serialization.load_pem_public_key(_pem(text, "PUBLIC KEY"))
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("an RSA public key is required for RSA2")
    return key


def sign(content: str, key: rsa.RSAPrivateKey) -> str:
    signature = key.sign(content.encode(CHARSET), padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(signature).decode()


def verify(content: str, signature: str, key: rsa.RSAPublicKey) -> bool:
    try:
        raw = base64.b64decode(signature.encode(), validate=True)
        key.verify(raw, content.encode(CHARSET), padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, binascii.Error, ValueError):
        return False
    return True


def request_content(params: Mapping[str, Any]) -> str:
    return "&".join(f"{k}={params[k]}" for k in sorted(params) if k != "sign" and params[k] not in ("", None))


def notification_content(params: Mapping[str, Any]) -> str:
    return "&".join(f"{k}={params[k]}" for k in sorted(params) if k not in ("sign", "sign_type"))


def signed_request(params: Mapping[str, Any], key: rsa.RSAPrivateKey) -> dict[str, str]:
    clean = {k: str(v) for k, v in params.items() if v not in ("", None)}
    clean["sign_type"] = SIGN_TYPE
    clean["sign"] = sign(request_content(clean), key)
    return clean


def signed_notification(params: Mapping[str, Any], key: rsa.RSAPrivateKey) -> dict[str, str]:
    clean = {k: str(v) for k, v in params.items()}
    clean["sign_type"] = SIGN_TYPE
    clean["sign"] = sign(notification_content(clean), key)
    return clean


def verify_request(params: Mapping[str, str], key: rsa.RSAPublicKey) -> bool:
    signature = params.get("sign")
    return bool(signature) and verify(request_content(params), signature or "", key)


def verify_notification(params: Mapping[str, str], key: rsa.RSAPublicKey) -> bool:
    signature = params.get("sign")
    return bool(signature) and verify(notification_content(params), signature or "", key)


def response_node_name(method: str) -> str:
    """``alipay.trade.query`` -> ``alipay_trade_query_response``."""
    return method.replace(".", "_") + "_response"


def signed_response(method: str, node: Mapping[str, Any], key: rsa.RSAPrivateKey) -> str:
    """The body of a synchronous response: the node's exact JSON text is what gets signed."""
    node_text = json.dumps(node, ensure_ascii=False, separators=(",", ":"))
    return f'{{"{response_node_name(method)}":{node_text},"sign":"{sign(node_text, key)}"}}'


def node_text(raw: str, node_name: str) -> str | None:
    """The exact text of ``node_name``'s JSON object inside a response body (balanced braces, strings
    respected), or None when the body has no such node."""
    at = raw.find(f'"{node_name}"')
    start = raw.find("{", at) if at >= 0 else -1
    if start < 0:
        return None
    depth, in_string, escaped = 0, False, False
    for i in range(start, len(raw)):
        c = raw[i]
        if in_string:
            escaped = c == "\\" and not escaped
            if c == '"' and not escaped:
                in_string = False
            continue
        if c == '"':
            in_string = True
        elif c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return raw[start : i + 1]
    return None


def verify_response(raw: str, method: str, key: rsa.RSAPublicKey) -> dict[str, Any] | None:
    """The response node as a dict if the provider's signature over it holds, else None."""
    text = node_text(raw, response_node_name(method))
    try:
        signature = json.loads(raw).get("sign", "")
    except ValueError:
        return None
    if text is None or not signature or not verify(text, signature, key):
        return None
    node: dict[str, Any] = json.loads(text)
    return node


def timestamp(moment: datetime) -> str:
    return moment.strftime(TIME_FORMAT)


def yuan(fen: int) -> str:
    """Alipay amounts are yuan strings with two decimals: the platform's own money format."""
    return format_fen(fen)
