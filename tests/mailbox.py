"""A real SMTP server for tests (aiosmtpd) on a loopback socket bound beforehand, keeping what arrives."""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

from tests.servers import bound_socket


@dataclass
class Mailbox:
    """Every message the server accepted, parsed, in order of arrival."""

    port: int
    messages: list[EmailMessage] = field(default_factory=list)
    recipients: list[list[str]] = field(default_factory=list)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append(parsed)
        self.recipients.append(list(envelope.rcpt_tos))
        return "250 OK"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m, rcpt in zip(self.messages, self.recipients, strict=True) if address in rcpt]


@contextlib.asynccontextmanager
async def smtp_server() -> AsyncIterator[Mailbox]:
    sock = bound_socket()
    box = Mailbox(port=int(sock.getsockname()[1]))
    loop = asyncio.get_running_loop()
    server: Any = await loop.create_server(lambda: SMTP(box, hostname="mail.test"), sock=sock)
    try:
        yield box
    finally:
        server.close()
        await server.wait_closed()
