"""What every service function needs, built once per process by :mod:`flashport.bootstrap` and passed
in: settings, the database, the clock and the ports to the outside systems. Every port is always there
(a real adapter or a sandbox's, chosen by settings), so no service checks for one at run time."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from flashport.adapters.db import console_repo
from flashport.adapters.db.engine import reading
from flashport.adapters.mail import Mailer, OutboxMailer
from flashport.domain.sales import SalePolicy
from flashport.services import outbox
from flashport.services.waiting_room.state import WaitingRooms
from flashport.settings import Settings

if TYPE_CHECKING:
    from flashport.adapters.customs.gateway import CustomsGateway
    from flashport.adapters.identity_vault import IdentityVault
    from flashport.adapters.logistics.interface import LogisticsProvider
    from flashport.adapters.notify.channels import Channels
    from flashport.adapters.partner_bus import NatsPartnerBus
    from flashport.adapters.payments.interface import PaymentProvider
    from flashport.adapters.secret_box import SecretBox
    from flashport.adapters.session_revocations import RevocationList
    from flashport.adapters.stock.interface import StockEngine
    from flashport.adapters.waiting_room.interface import QueueStore
    from flashport.ceb.signing import Signer
    from flashport.services.rate_limits import RateLimits
    from flashport.services.sales.buy_path import BuyPath


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class PendingAudit:
    """A staff member's action waiting for its entry in the audit log (``operator_audit``).

    The entry is written by the first transaction of the command that changes something, inside that
    transaction: every change writes an outbox event in its transaction (rule 9), and the entry goes in
    beside the first one. So the change and its entry commit together or not at all, and a command that
    changes nothing (a refusal, or setting what is already stored) records nothing. The entry's subject
    is ``subject`` or else the outbox event's; its details are the event's payload with ``details`` over
    it. ``recorded`` turns True once that transaction has committed, so the command's later
    transactions (e.g. the pending orders a cancelled event cancels) add no second entry."""

    staff_id: int
    action: str
    subject: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    recorded: bool = False


@dataclass
class Tx:
    """One database transaction. ``emit`` writes an outbox row inside it (rule 9), and with it the
    audit entry of the staff action this transaction carries out, if any (:class:`PendingAudit`)."""

    conn: AsyncConnection
    now: datetime
    audit: PendingAudit | None = None
    audited: bool = False  # this transaction has written ``audit``'s entry

    async def emit(self, type_: str, subject: str, payload: dict[str, Any]) -> None:
        await outbox.append(self.conn, type_, subject, payload, self.now)
        await self._record_audit(subject, payload)

    async def emit_many(self, records: Sequence[tuple[str, str, dict[str, Any]]]) -> None:
        """Several outbox records (type, subject, payload) in one statement, in the order given."""
        await outbox.append_many(self.conn, records, self.now)
        if records:
            await self._record_audit(records[0][1], records[0][2])

    async def _record_audit(self, subject: str, payload: dict[str, Any]) -> None:
        if self.audit is None or self.audited:
            return
        note = self.audit
        details = {**payload, **note.details}
        await console_repo.record(
            self.conn, note.staff_id, note.action, note.subject or subject, details, self.now
        )
        self.audited = True


@dataclass
class Context:
    """The ports: ``stock`` (SQL or Redis engine), ``buy_path`` (this process's hot-path state),
    ``payments`` (the provider, Alipay protocol), ``vault`` (seals ID numbers), ``customs`` (the single
    window; the simulator in the demo), ``logistics`` (the carrier), ``secrets`` (seals partners' webhook
    secrets), ``sessions`` (the ended sessions: adapters/session_revocations.py), ``limits`` (rate limits
    and the log-in lockout), ``queue_store`` (the waiting rooms' queues), ``partner_bus`` (JetStream, when
    set) and ``mail``. ``customs_signer`` alone is loaded on first use: its key may be made then
    (``services.customs.documents.signer``)."""

    settings: Settings
    engine: AsyncEngine
    stock: StockEngine
    buy_path: BuyPath
    payments: PaymentProvider
    vault: IdentityVault
    customs: CustomsGateway
    logistics: LogisticsProvider
    secrets: SecretBox
    sessions: RevocationList
    limits: RateLimits
    # Where the waiting rooms' queues live: the database, or Redis when configured (adapters/waiting_room).
    queue_store: QueueStore
    # NATS JetStream between the partner relay and the webhook queue (FLASHPORT_PARTNER_BUS=nats);
    # None on the embedded default, where deliveries are queued from the database.
    partner_bus: NatsPartnerBus | None = None
    clock: Callable[[], datetime] = utc_now
    mail: Mailer = field(default_factory=OutboxMailer)
    customs_signer: Signer | None = None
    # The notifier's e-mail and SMS channels, built from settings on first use (services/notify).
    notify_channels: Channels | None = None
    # The waiting rooms as this process sees them (services/waiting_room/state.py).
    rooms: WaitingRooms = field(default_factory=WaitingRooms)
    # The staff action the commands run with this context carry out (see ``audited``); None: no entry.
    audit: PendingAudit | None = None

    @property
    def policy(self) -> SalePolicy:
        s = self.settings
        return SalePolicy(s.event_min_length, s.event_max_length, s.price_band_min, s.price_band_max)

    def audited(
        self,
        staff_id: int,
        action: str,
        *,
        subject: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> Context:
        """This context for one staff command: the first of its transactions that changes something also
        writes the audit entry ``action`` by ``staff_id`` (:class:`PendingAudit`). Use the returned
        context for that one command only."""
        return replace(self, audit=PendingAudit(staff_id, action, subject, dict(details or {})))

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Tx]:
        """Commits when the block ends normally, rolls back on any exception."""
        audit = self.audit if self.audit is not None and not self.audit.recorded else None
        async with self.engine.begin() as conn:
            tx = Tx(conn, self.clock(), audit)
            yield tx
        if audit is not None and tx.audited:
            audit.recorded = True

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        async with reading(self.engine) as conn:
            yield conn
