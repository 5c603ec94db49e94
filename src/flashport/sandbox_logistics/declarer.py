"""Sends queued CEB511s to the single window, each waybill's in the order they were made, many
waybills' together: the queued messages waiting at once (up to 100, within a short window, see
:class:`~flashport.sandbox_support.batcher.Batcher`) go as one CEB511, each waybill's document as it
was made (its head guid included); each keeps the guid of the message it went in.

Failure policy: the single window being down or answering 5xx never fails a request nor loses a
message. The waybill stays ``declared: false``, the message stays queued, and it is sent again by the
next request for that waybill or by the background round (:meth:`Declarer.run`), whichever comes
first. A later message of the same waybill never overtakes an earlier one (a change must not arrive
before the waybill it changes). A message the single window refuses outright (4xx) is recorded as
refused and not sent again: the same bytes would be refused again.

One process only: the per-waybill locks that keep two senders from sending the same message twice
live in memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from datetime import UTC, datetime

from flashport.adapters.customs.gateway import CustomsGateway, CustomsRefused, CustomsUnavailable
from flashport.ceb import Sender
from flashport.sandbox_logistics.ceb511 import batch_of, guid_of
from flashport.sandbox_logistics.store import WaybillStore
from flashport.sandbox_logistics.waybills import Declaration, DeclarationState
from flashport.sandbox_support.batcher import Batcher

log = logging.getLogger(__name__)


class Declarer:
    def __init__(
        self,
        store: WaybillStore,
        gateway: CustomsGateway,
        sender: Sender,
        *,
        batch_size: int = 100,
        batch_window: float = 0.05,
    ) -> None:
        self._store = store
        self._gateway = gateway
        self._sender = sender
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()
        self._batcher: Batcher[Declaration, bool] = Batcher(
            self._send_batch, size=batch_size, window=batch_window
        )

    def _lock(self, logistics_no: str) -> asyncio.Lock:
        lock = self._locks.get(logistics_no)
        if lock is None:
            lock = self._locks[logistics_no] = asyncio.Lock()
        return lock

    async def flush(self, logistics_no: str) -> None:
        """Send the waybill's queued CEB511s, oldest first, stopping at the first that cannot get
        through. Never raises for the single window's failures."""
        async with self._lock(logistics_no):
            async with self._store.transaction() as records:
                queued = await records.pending(logistics_no)
            for declaration in queued:
                if not await self._send(declaration):
                    return

    async def flush_many(self, logistics_nos: list[str]) -> None:
        """:meth:`flush` for many waybills at once: their queues read in one transaction and their
        messages handed to the batcher together, so new waybills made together share a CEB511."""
        async with contextlib.AsyncExitStack() as held:
            for logistics_no in sorted(set(logistics_nos)):  # one order of locking: no deadlock
                await held.enter_async_context(self._lock(logistics_no))
            async with self._store.transaction() as records:
                queues = [await records.pending(logistics_no) for logistics_no in sorted(set(logistics_nos))]

            async def send_in_order(queued: list[Declaration]) -> None:
                for declaration in queued:
                    if not await self._send(declaration):
                        return

            await asyncio.gather(*(send_in_order(queued) for queued in queues))

    async def _send(self, declaration: Declaration) -> bool:
        """Whether the sending may go on with the next message of the waybill."""
        return await self._batcher.submit(declaration)

    async def _send_batch(self, queued: list[Declaration]) -> list[bool | Exception]:
        """One CEB511 for the queued documents of several waybills (one each: a waybill's next one
        waits for this one), then every attempt recorded in one transaction."""
        state, error, message = DeclarationState.SENT, None, b""
        try:
            message = batch_of([d.message for d in queued], self._sender)
            await self._gateway.send(message)
        except CustomsUnavailable as exc:
            state, error = DeclarationState.PENDING, str(exc)
        except CustomsRefused as exc:
            state, error = DeclarationState.REFUSED, f"{exc.code}: {exc.message}"
            log.warning("the single window refused a CEB511 of %s waybills: %s", len(queued), error)
        now = datetime.now(UTC)
        sent_in = guid_of(message) if state is DeclarationState.SENT else None  # read once, not per waybill
        async with self._store.transaction() as records:
            for declaration in queued:
                await records.record_attempt(declaration, state, now, error, sent_in=sent_in)
        return [state is not DeclarationState.PENDING] * len(queued)

    async def run(self, pause_seconds: float, stop: asyncio.Event) -> None:
        """Until ``stop`` is set: every ``pause_seconds``, try again every waybill with a message queued.

        It stops between rounds, never inside one: a round cancelled in the middle of a transaction can
        leave its SQLite connection open and holding the write lock, so the next start of the sandbox on
        the same file waits out the busy timeout and fails."""
        while not stop.is_set():
            try:
                await self._round()
            except Exception:
                # A broken database or a bug must not end the resending for good; the next round retries.
                log.exception("a round of CEB511 resending failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), pause_seconds)

    async def _round(self) -> None:
        async with self._store.transaction() as records:
            waiting = await records.with_pending()
        # All at once: their messages share CEB511s.
        await asyncio.gather(*(self.flush(logistics_no) for logistics_no in waiting))
