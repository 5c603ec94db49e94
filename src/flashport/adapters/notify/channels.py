"""Channels a message leaves by. Contract of every channel: :meth:`send` returns once the message was
handed over (an SMTP server accepted it, the SMS gateway took it) and raises :class:`ChannelFailed`
otherwise, never anything else for a partner's failure; the notifier then retries later with backoff.
A message may be handed over twice if the process dies between hand-over and the record of it
(at-least-once); ``message_id`` is stable per message so a receiver can tell a repeat."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Protocol

import aiosmtplib

from flashport.settings import Settings

log = logging.getLogger(__name__)


class ChannelFailed(Exception):
    """The message was not handed over; try again later."""


@dataclass(frozen=True)
class Outgoing:
    to: str  # an e-mail address or a mobile number
    subject: str
    body: str
    message_id: str  # stable per message: notification-<id>
    language: str


class Channel(Protocol):
    async def send(self, message: Outgoing) -> None: ...


class SmtpMailer:
    """E-mail through an SMTP server (settings ``smtp_*``, ``mail_sender``)."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    def _email(self, message: Outgoing) -> EmailMessage:
        email = EmailMessage()
        email["From"] = self._settings.mail_sender
        email["To"] = message.to
        email["Subject"] = message.subject
        email["Message-ID"] = make_msgid(idstring=message.message_id, domain="flashport")
        email.set_content(message.body)
        email["Content-Language"] = message.language  # after set_content, which clears Content-*
        return email

    async def send(self, message: Outgoing) -> None:
        s = self._settings
        assert s.smtp_host is not None
        try:
            await aiosmtplib.send(
                self._email(message),
                hostname=s.smtp_host,
                port=s.smtp_port,
                username=s.smtp_user,
                password=s.smtp_password,
                use_tls=s.smtp_tls == "tls",
                start_tls=s.smtp_tls == "starttls",
                timeout=s.smtp_timeout_seconds,
            )
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise ChannelFailed(f"SMTP {s.smtp_host}:{s.smtp_port}: {exc}") from exc


class LoggedMailer:
    """No SMTP server configured (development): the message is logged, without its address."""

    async def send(self, message: Outgoing) -> None:
        log.info("e-mail not sent (no smtp_host): %s %r", message.message_id, message.subject)


@dataclass
class SandboxSms:
    """The SMS gateway's sandbox: keeps every message it is given, in order, and can be told to fail
    (``down``) to exercise retries. A real gateway (a provider's API) implements the same ``send``."""

    sent: list[Outgoing] = field(default_factory=list)
    down: bool = False

    async def send(self, message: Outgoing) -> None:
        if self.down:
            raise ChannelFailed("SMS sandbox is down")
        self.sent.append(message)
        log.info("SMS recorded: %s", message.message_id)


def mailer_for(settings: Settings) -> Channel:
    return SmtpMailer(settings) if settings.smtp_host else LoggedMailer()


@dataclass
class Channels:
    """The notifier's ways out: e-mail and SMS."""

    email: Channel
    sms: Channel


def channels_for(settings: Settings) -> Channels:
    return Channels(mailer_for(settings), SandboxSms())
