"""The checks a message passes before anything is filed: the official schema, then the XML-DSig
signature. Both are CPU work on bytes; :class:`.single_window.SingleWindow` runs them off the event loop.

The signature is checked against the certificate the message carries in its own ``ds:X509Data``: that
proves the message was not altered since it was signed, not who signed it. Who signed it is then
checked per document against the register of certificates (:mod:`.certificates`), from the
fingerprint :func:`screen` returns. RSA-SHA1 (what the e-port's keys make) and RSA-SHA256 are accepted.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

from cryptography import x509
from lxml import etree

from flashport.ceb import SignatureInvalid, validate, verify_signature
from flashport.ceb.xml import DS_NS, safe_parser
from flashport.sandbox_customs.certificates import fingerprint
from flashport.sandbox_customs.documents import DocumentKind

_CERTIFICATE = "/".join(f"{{{DS_NS}}}{name}" for name in ("KeyInfo", "X509Data", "X509Certificate"))
SCHEMA_PROBLEMS_SHOWN = 5


@dataclass(frozen=True)
class Screened:
    problem: str | None = None  # why the whole message is refused
    signed_by: str | None = None  # SHA-256 fingerprint of the signing certificate, when signed


def screen(raw: bytes, kind: DocumentKind, *, validate_schema: bool, verify_signatures: bool) -> Screened:
    """Whether the message is refused before filing, and by whom it is signed."""
    if validate_schema:
        problems = validate(raw)
        if problems:
            return Screened(
                "not valid against the CEB schema: " + "; ".join(problems[:SCHEMA_PROBLEMS_SHOWN])
            )
    if verify_signatures:
        return _signature(raw, kind)
    return Screened()


def _signature(raw: bytes, kind: DocumentKind) -> Screened:
    """CEB621 must be signed; any other kind, if signed, must verify too."""
    signature = etree.fromstring(raw, parser=safe_parser()).find(f"{{{DS_NS}}}Signature")
    if signature is None:
        return Screened("CEB621 must carry ds:Signature" if kind is DocumentKind.INVENTORY else None)
    try:
        text = signature.findtext(_CERTIFICATE)
        if not text:
            raise SignatureInvalid("no certificate in ds:KeyInfo/ds:X509Data")
        certificate = x509.load_der_x509_certificate(base64.b64decode(text))
        verify_signature(raw, certificate, accept_sha1=True)
    except (SignatureInvalid, ValueError) as exc:
        return Screened(f"the signature does not verify: {exc}")
    return Screened(signed_by=fingerprint(certificate))
