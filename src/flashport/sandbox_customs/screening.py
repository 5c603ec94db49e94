"""The checks a message passes before anything is filed: the official schema, then the XML-DSig
signature. Both are CPU work on bytes; :class:`.single_window.SingleWindow` runs them off the event loop.

The signature is checked against the certificate the message carries in its own ``ds:X509Data``: that
proves the message was not altered since it was signed, not who signed it. The real single window also
checks the certificate against the declarant's registration; the simulator has no registry.
"""

from __future__ import annotations

import base64

from cryptography import x509
from lxml import etree

from flashport.ceb import SignatureInvalid, validate, verify_signature
from flashport.ceb.xml import DS_NS, safe_parser
from flashport.sandbox_customs.documents import DocumentKind

_CERTIFICATE = "/".join(f"{{{DS_NS}}}{name}" for name in ("KeyInfo", "X509Data", "X509Certificate"))
SCHEMA_PROBLEMS_SHOWN = 5


def screen(raw: bytes, kind: DocumentKind, *, validate_schema: bool, verify_signatures: bool) -> str | None:
    """Why the message is refused before filing, or None when it passes."""
    if validate_schema:
        problems = validate(raw)
        if problems:
            return "not valid against the CEB schema: " + "; ".join(problems[:SCHEMA_PROBLEMS_SHOWN])
    if verify_signatures:
        return _signature_problem(raw, kind)
    return None


def _signature_problem(raw: bytes, kind: DocumentKind) -> str | None:
    """CEB621 must be signed; any other kind, if signed, must verify too."""
    signature = etree.fromstring(raw, parser=safe_parser()).find(f"{{{DS_NS}}}Signature")
    if signature is None:
        return "CEB621 must carry ds:Signature" if kind is DocumentKind.INVENTORY else None
    try:
        text = signature.findtext(_CERTIFICATE)
        if not text:
            raise SignatureInvalid("no certificate in ds:KeyInfo/ds:X509Data")
        verify_signature(raw, x509.load_der_x509_certificate(base64.b64decode(text)))
    except (SignatureInvalid, ValueError) as exc:
        return f"the signature does not verify: {exc}"
    return None
