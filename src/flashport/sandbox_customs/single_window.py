"""The simulator's service layer: what the HTTP handlers call.

Receiving a message is: open the envelope (no envelope, no answer: :class:`NotACebMessage`), screen it
(schema, signature), read its facts, then one write transaction that files it, runs the match and
writes every receipt. A refused message is answered in the sender's inbox, like any verdict.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from flashport.sandbox_customs import (
    certificates,
    deliveries,
    inbox,
    judging,
    returns,
    store,
    tax_bills,
    withdrawals,
)
from flashport.sandbox_customs.batch_filing import file_all
from flashport.sandbox_customs.certificates import Register, Registration
from flashport.sandbox_customs.checks import Limits
from flashport.sandbox_customs.database import SingleWindowDatabase
from flashport.sandbox_customs.office import Office
from flashport.sandbox_customs.reading import (
    Entry,
    Envelope,
    Incoming,
    UnreadableDocument,
    line_fields,
    open_entries,
    read_facts,
)
from flashport.sandbox_customs.refusals import joined
from flashport.sandbox_customs.screening import Screened, screen
from flashport.sandbox_customs.sealing import Sealer
from flashport.sandbox_customs.settings import CustomsSimSettings
from flashport.sandbox_customs.statuses import PROCESSING_ERROR, REJECTED, DeclarationState
from flashport.sandbox_customs.store import Declaration
from flashport.sandbox_customs.verification import verify
from flashport.sandbox_customs.views import declaration_view


class SingleWindow:
    def __init__(
        self, database: SingleWindowDatabase, settings: CustomsSimSettings, sealer: Sealer, register: Register
    ) -> None:
        self._db = database
        self._settings = settings
        limits = Limits(settings.single_transaction_limit_fen, settings.annual_limit_fen)
        self._office = Office(limits, sealer, settings.check_tax, settings.hold_release)
        self._register = register

    @classmethod
    async def open(
        cls, database: SingleWindowDatabase, settings: CustomsSimSettings, sealer: Sealer
    ) -> SingleWindow:
        """The window over a started database, with the certificates of its startup configuration
        registered (again: registering is idempotent) and every registration loaded."""
        at = datetime.now(UTC)
        async with database.engine.begin() as conn:
            for entry in settings.certificates:
                await certificates.register(conn, certificates.from_setting(entry), at)
            found = await certificates.registered(conn)
        return cls(database, settings, sealer, Register(found))

    async def register_certificate(self, entry: Registration) -> None:
        async with self._db.engine.begin() as conn:
            await certificates.register(conn, entry, datetime.now(UTC))
        self._register.add(entry)

    async def certificates(self) -> list[Registration]:
        async with self._db.engine.connect() as conn:
            return await certificates.registered(conn)

    async def summarise_tax_bills(self, period: str) -> tax_bills.Summary:
        async with self._db.engine.begin() as conn:
            return await tax_bills.summarise(conn, period, datetime.now(UTC))

    async def receive(self, raw: bytes) -> Envelope:
        """Take one message of up to 100 documents; the verdict on each goes to the sender's inbox,
        one receipt per document. A message the schema or its signature refuses is refused whole
        (each document is answered so); otherwise each document is judged on its own, so one that
        cannot be read or filed does not hold back the others. Raises ``NotACebMessage``."""
        entries = open_entries(raw)
        kind = entries[0].envelope.kind
        screened = await asyncio.to_thread(
            screen,
            raw,
            kind,
            validate_schema=self._settings.validate_schema,
            verify_signatures=self._settings.verify_signatures,
        )
        now = datetime.now(UTC)
        async with self._db.engine.begin() as conn:
            readable = [
                incoming for entry in entries if (incoming := await self._take(conn, entry, screened, now))
            ]
            await file_all(conn, readable, self._office, now)
        return entries[0].envelope

    async def receive_any(self, raw: bytes) -> tuple[str, str]:
        """(message guid, kind) of any message the window takes: the four documents of the match
        (:meth:`receive`) or a carrier's CEB513. Raises ``NotACebMessage``."""
        if deliveries.is_delivery(raw):
            return await self._receive_delivery(raw), deliveries.KIND
        if returns.is_return(raw):
            return await self._receive_return(raw), returns.KIND
        if withdrawals.is_withdrawal(raw):
            return await self._receive_withdrawal(raw), withdrawals.KIND
        envelope = await self.receive(raw)
        return envelope.message_guid, envelope.kind.value

    async def _receive_delivery(self, raw: bytes) -> str:
        screened = await asyncio.to_thread(
            screen,
            raw,
            deliveries.SCREENED_AS,
            validate_schema=self._settings.validate_schema,
            verify_signatures=self._settings.verify_signatures,
        )
        async with self._db.engine.begin() as conn:
            return await deliveries.receive(conn, raw, screened, datetime.now(UTC))

    async def _receive_return(self, raw: bytes) -> str:
        screened = await asyncio.to_thread(
            screen,
            raw,
            returns.SCREENED_AS,
            validate_schema=self._settings.validate_schema,
            verify_signatures=self._settings.verify_signatures,
        )
        async with self._db.engine.begin() as conn:
            register = self._register if self._settings.verify_signatures else None
            return await returns.receive(conn, raw, screened, register, self._office, datetime.now(UTC))

    async def _receive_withdrawal(self, raw: bytes) -> str:
        screened = await asyncio.to_thread(
            screen,
            raw,
            returns.SCREENED_AS,
            validate_schema=self._settings.validate_schema,
            verify_signatures=self._settings.verify_signatures,
        )
        async with self._db.engine.begin() as conn:
            register = self._register if self._settings.verify_signatures else None
            return await withdrawals.receive(conn, raw, screened, register, self._office, datetime.now(UTC))

    async def release(self, order_no: str, ebp_code: str | None) -> Declaration | None:
        """Customs' officer releases the order's accepted inventory list (held by ``hold_release``);
        returns the declaration as it is afterwards, None when nothing of the order is on file. It
        stays unreleased when it was not accepted (the caller reads its state)."""
        async with self._db.engine.begin() as conn:
            found = await store.declarations_of(conn, order_no, ebp_code)
            if not found:
                return None
            await judging.release(conn, found[0], self._office, datetime.now(UTC))
            return (await store.declarations_of(conn, order_no, found[0].ebp_code))[0]

    async def _take(
        self, conn: AsyncConnection, entry: Entry, screened: Screened, now: datetime
    ) -> Incoming | None:
        """The document read, to be filed (:func:`.batch_filing.file_all`), once screened and verified
        field by field and for its signer; None when it was answered instead: refused (100, every
        reason given) when it fails verification, a processing error when it cannot be read."""
        envelope, problem = entry.envelope, screened.problem
        if problem is None:
            refusals = verify(envelope.kind, envelope.head, line_fields(envelope, entry.root))
            if screened.signed_by is not None:
                unregistered = self._register.refusal(envelope.kind, envelope.head, screened.signed_by)
                refusals += [unregistered] if unregistered is not None else []
            if refusals:
                await inbox.answer(conn, envelope, REJECTED, joined(refusals), now)
                return None
            try:
                return Incoming(envelope, read_facts(envelope, entry.root), entry.raw)
            except UnreadableDocument as exc:
                problem = str(exc)
        await inbox.answer(conn, envelope, PROCESSING_ERROR, problem or "unreadable", now)
        return None

    async def inbox(self, dxp_id: str, after: int, limit: int) -> list[dict[str, Any]]:
        async with self._db.engine.connect() as conn:
            return await inbox.items_after(conn, dxp_id, after, limit)

    async def declaration(self, order_no: str, ebp_code: str | None) -> dict[str, Any] | None:
        """The declaration (the most recently changed one if several platforms used the number), its
        documents on file and the receipts sent about it; None when nothing about the order is on file."""
        async with self._db.engine.connect() as conn:
            found = await store.declarations_of(conn, order_no, ebp_code)
            platform = found[0].ebp_code if found else ebp_code
            on_file = await store.documents_on_file(conn, order_no, platform)
            sent = await inbox.sent_for(conn, order_no)
        if not (found or on_file or sent):
            return None
        return declaration_view(order_no, found[0] if found else None, on_file, sent)

    async def declarations(self, state: DeclarationState | None) -> list[dict[str, Any]]:
        async with self._db.engine.connect() as conn:
            found = await store.listed_declarations(conn, state)
        return [declaration_view(d.order_no, d, None, None) for d in found]
