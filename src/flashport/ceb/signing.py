"""Enveloped XML-DSig for CEB messages, behind a small interface.

Enterprises sign with a key held in a hardware token (SM2-SM3 or RSA); Flashport keeps that behind
:class:`Signer` and ships :class:`SoftwareKeySigner` for tests, the demo and the customs simulator.

The signature covers the whole message (``Reference URI=""``) minus the Signature node (the
enveloped-signature transform), canonicalised with inclusive C14N 1.0, and is appended as the last
child of the root, which is where the schema puts ``ds:Signature``. The algorithm is RSA-SHA256 with a
SHA-256 digest: the schema accepts any algorithm URI, and SHA-1 signatures are no longer safe (signxml
refuses to make them); a real single-window key that only does RSA-SHA1 needs its own Signer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from lxml import etree
from signxml import (
    CanonicalizationMethod,
    DigestAlgorithm,
    SignatureConfiguration,
    SignatureMethod,
    XMLSigner,
    XMLVerifier,
)
from signxml.exceptions import SignXMLException

from flashport.ceb.errors import SignatureInvalid
from flashport.ceb.schema_lock import prepare_signature_schemas
from flashport.ceb.xml import DS_NS, safe_parser, to_bytes

SIGNATURE_METHOD = SignatureMethod.RSA_SHA256
DIGEST_ALGORITHM = DigestAlgorithm.SHA256
C14N_METHOD = CanonicalizationMethod.CANONICAL_XML_1_0


class Signer(Protocol):
    """Signs a complete CEB message and returns it with ``ds:Signature`` appended to the root."""

    def sign(self, message: bytes) -> bytes: ...


@dataclass(frozen=True)
class SoftwareKeySigner:
    """An RSA key and its certificate held in memory. The certificate travels in ``ds:X509Data``."""

    private_key: rsa.RSAPrivateKey
    certificate: x509.Certificate

    def sign(self, message: bytes) -> bytes:
        root = etree.fromstring(message, parser=safe_parser())
        if root.find(f"{{{DS_NS}}}Signature") is not None:
            raise ValueError("the message is already signed")
        signer = XMLSigner(
            signature_algorithm=SIGNATURE_METHOD,
            digest_algorithm=DIGEST_ALGORITHM,
            c14n_algorithm=C14N_METHOD,
        )
        signed = signer.sign(
            root,
            key=self.private_key,
            cert=[self.certificate],
            key_name=format(self.certificate.serial_number, "x"),
        )
        return to_bytes(signed)

    @classmethod
    def generate(cls, common_name: str, *, valid_for: timedelta = timedelta(days=365)) -> SoftwareKeySigner:
        """A fresh 2048-bit key with a self-signed certificate (tests, demo, simulator)."""
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
        now = datetime.now(UTC)
        certificate = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + valid_for)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(key, hashes.SHA256())
        )
        return cls(private_key=key, certificate=certificate)

    @classmethod
    def from_pem(
        cls, key_pem: bytes, certificate_pem: bytes, password: bytes | None = None
    ) -> SoftwareKeySigner:
        key = serialization.load_pem_private_key(key_pem, password=password)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise TypeError("a SoftwareKeySigner needs an RSA private key")
        return cls(private_key=key, certificate=x509.load_pem_x509_certificate(certificate_pem))


def verify_signature(message: bytes, certificate: x509.Certificate, *, accept_sha1: bool = False) -> None:
    """Check that ``message`` carries a valid enveloped signature by ``certificate`` over all of it.

    Raises :class:`SignatureInvalid` otherwise (no signature, other key, altered content, a reference
    to only part of the message, or an algorithm other than RSA-SHA256/SHA-256). ``accept_sha1``
    also accepts RSA-SHA1 with SHA-1 digests: what the e-port's hardware keys make, so what the
    single window (and its simulator) must take.
    """
    methods, digests = {SIGNATURE_METHOD}, {DIGEST_ALGORITHM}
    if accept_sha1:
        methods.add(SignatureMethod.RSA_SHA1)
        digests.add(DigestAlgorithm.SHA1)
    expected = SignatureConfiguration(
        location="./",  # a direct child of the root, as the schema places it
        signature_methods=frozenset(methods),
        digest_algorithms=frozenset(digests),
    )
    prepare_signature_schemas()  # signxml's first verification compiles a schema: under our lock
    try:
        root = etree.fromstring(message, parser=safe_parser())
        result = XMLVerifier().verify(root, x509_cert=certificate, expect_config=expected)
    except (SignXMLException, etree.XMLSyntaxError) as exc:
        raise SignatureInvalid(str(exc)) from exc
    results = result if isinstance(result, list) else [result]
    # "See what is signed": the one reference must be the whole message, not some element inside it.
    if len(results) != 1 or results[0].signed_xml is None or results[0].signed_xml.tag != root.tag:
        raise SignatureInvalid("the signature does not cover the whole message")
