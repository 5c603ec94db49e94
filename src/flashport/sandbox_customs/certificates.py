"""The register of declarants' certificates: which signing certificates belong to which enterprise
(by customs code) in which role. The real single window trusts a signature only from a certificate
the e-port issued to the enterprise that declares; the simulator trusts only certificates registered
here, by its startup configuration (``FLASHPORT_CUSTOMS_SIM_CERTIFICATES``) or its admin endpoint.

A signed document is accepted only when its certificate is registered to the enterprise that declares
it, in a role that may declare that kind: the order (ebpCode) by the platform, the payment (payCode)
by the payment company, the waybill (logisticsCode) by the carrier, the inventory list (agentCode) by
the platform or the bonded warehouse acting as its customs agent.
"""

# Receipts are worded like customs' own, with Chinese full-width punctuation.
# ruff: noqa: RUF001

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path

import sqlalchemy as sa
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from sqlalchemy.ext.asyncio import AsyncConnection

from flashport.sandbox_customs.documents import DocumentKind
from flashport.sandbox_customs.refusals import CERTIFICATE_NOT_REGISTERED, Refusal
from flashport.sandbox_customs.tables import certificates


class AgentRole(StrEnum):
    PLATFORM = "platform"
    PAYMENT = "payment"
    CARRIER = "carrier"
    WAREHOUSE = "warehouse"


# Who may sign each kind, and which head field names the enterprise that declares it.
SIGNERS: Mapping[DocumentKind, tuple[str, frozenset[AgentRole]]] = {
    DocumentKind.ORDER: ("ebpCode", frozenset({AgentRole.PLATFORM})),
    DocumentKind.PAYMENT: ("payCode", frozenset({AgentRole.PAYMENT})),
    DocumentKind.WAYBILL: ("logisticsCode", frozenset({AgentRole.CARRIER})),
    DocumentKind.INVENTORY: ("agentCode", frozenset({AgentRole.PLATFORM, AgentRole.WAREHOUSE})),
}


class BadCertificate(ValueError):
    pass


@dataclass(frozen=True)
class Registration:
    agent_code: str
    role: AgentRole
    fingerprint: str
    certificate: str  # PEM


def fingerprint(certificate: x509.Certificate) -> str:
    return hashlib.sha256(certificate.public_bytes(serialization.Encoding.DER)).hexdigest()


def registration(agent_code: str, role: str, pem: str) -> Registration:
    """Check and read one registration. Raises :class:`BadCertificate`."""
    if not agent_code or len(agent_code) > 18:
        raise BadCertificate("agent_code must be the enterprise's customs code (10 or 18 characters)")
    try:
        chosen = AgentRole(role)
    except ValueError:
        raise BadCertificate(f"role must be one of {', '.join(AgentRole)}") from None
    try:
        certificate = x509.load_pem_x509_certificate(pem.encode())
    except ValueError as exc:
        raise BadCertificate(f"not a PEM certificate: {exc}") from None
    text = certificate.public_bytes(serialization.Encoding.PEM).decode()
    return Registration(agent_code, chosen, fingerprint(certificate), text)


def from_setting(entry: str) -> Registration:
    """``role:agentCode:/path/to/certificate.pem`` (the file may also hold the key: only the
    certificate is read)."""
    role, agent_code, path = [*entry.split(":", 2), "", ""][:3]
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise BadCertificate(f"certificate file {path!r}: {exc}") from None
    begin = text.find("-----BEGIN CERTIFICATE-----")
    return registration(agent_code, role, text[begin:] if begin >= 0 else text)


async def register(conn: AsyncConnection, found: Registration, at: datetime) -> None:
    """Register (again: idempotent) one certificate."""
    exists = await conn.scalar(
        sa.select(certificates.c.id).where(
            certificates.c.agent_code == found.agent_code,
            certificates.c.role == found.role.value,
            certificates.c.fingerprint == found.fingerprint,
        )
    )
    if exists is None:
        await conn.execute(
            certificates.insert().values(
                agent_code=found.agent_code,
                role=found.role.value,
                fingerprint=found.fingerprint,
                certificate=found.certificate,
                registered_at=at,
            )
        )


async def registered(conn: AsyncConnection) -> list[Registration]:
    rows = (await conn.execute(sa.select(certificates).order_by(certificates.c.id))).all()
    return [Registration(r.agent_code, AgentRole(r.role), r.fingerprint, r.certificate) for r in rows]


class Register:
    """The registrations in memory, for the check on every signed document."""

    def __init__(self, entries: Iterable[Registration] = ()) -> None:
        self._roles: dict[tuple[str, str], set[AgentRole]] = {}
        for entry in entries:
            self.add(entry)

    def add(self, entry: Registration) -> None:
        self._roles.setdefault((entry.agent_code, entry.fingerprint), set()).add(entry.role)

    def refusal(self, kind: DocumentKind, head: Mapping[str, str], signed_by: str) -> Refusal | None:
        field, roles = SIGNERS[kind]
        agent = head.get(field, "")
        if self._roles.get((agent, signed_by), set()) & roles:
            return None
        wanted = "/".join(sorted(roles))
        return Refusal(
            CERTIFICATE_NOT_REGISTERED,
            f"签名证书未在海关备案（{field} {agent}）",
            f"the signing certificate (SHA-256 {signed_by[:16]}…) is not registered to {field} {agent}"
            f" as {wanted}",
        )
