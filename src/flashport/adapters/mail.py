"""The mail port: messages to account owners. The adapter in use writes each message as a ``mail.requested``
outbox record in the caller's transaction (rule 9: nothing leaves before the change commits), for the
mail relay that follows the event log to send; it also logs that a message was queued, without its
address. The buyer notifier (services/notify) is that relay for ``account.created`` (a welcome) and
``account.registration_attempt``: it sends them over its SMTP channel in the account's language."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

log = logging.getLogger(__name__)

Emit = Callable[[str, str, dict[str, Any]], Awaitable[None]]


@dataclass(frozen=True)
class MailMessage:
    to: str
    template: str  # e.g. "account.created", "account.registration_attempt"
    values: dict[str, str]


class Mailer(Protocol):
    async def send(self, emit: Emit, subject: str, message: MailMessage) -> None:
        """Queue ``message`` inside the transaction whose ``emit`` is given."""


class OutboxMailer:
    async def send(self, emit: Emit, subject: str, message: MailMessage) -> None:
        payload = {"to": message.to, "template": message.template, "values": message.values}
        await emit("mail.requested", subject, payload)
        log.info("mail queued: %s for %s", message.template, subject)
