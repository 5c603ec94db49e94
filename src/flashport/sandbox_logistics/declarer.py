"""Sends queued CEB511s to the single window, each waybill's in the order they were made.

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
from flashport.sandbox_logistics.store import WaybillStore
from flashport.sandbox_logistics.waybills import Declaration, DeclarationState

log = logging.getLogger(__name__)


class Declarer:
    def __init__(self, store: WaybillStore, gateway: CustomsGateway) -> None:
        self._store = store
        self._gateway = gateway
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

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

    async def _send(self, declaration: Declaration) -> bool:
        """Whether the sending may go on with the next message of the waybill."""
        state, error = DeclarationState.SENT, None
        try:
            await self._gateway.send(declaration.message)
        except CustomsUnavailable as exc:
            state, error = DeclarationState.PENDING, str(exc)
        except CustomsRefused as exc:
            state, error = DeclarationState.REFUSED, f"{exc.code}: {exc.message}"
            log.warning("the single window refused CEB511 %s: %s", declaration.id, error)
        async with self._store.transaction() as records:
            await records.record_attempt(declaration, state, datetime.now(UTC), error)
        return state is not DeclarationState.PENDING

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
        for logistics_no in waiting:
            await self.flush(logistics_no)
