"""Sends queued notifications to merchants' notify URLs, as Alipay does: a form POST, done only when
the answer is exactly ``success``, otherwise retried after each interval of the schedule in turn until
the schedule runs out.

Failure policy: a merchant that is down, slow (beyond the timeout) or answers anything else only delays
its own deliveries; each delivery runs in its own task, so one slow merchant never holds up another.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

import httpx

from flashport.adapters.tls import tls
from flashport.sandbox_pay.delivery_queue import Delivery, DeliveryQueue, is_acknowledged
from flashport.sandbox_pay.trades import now_utc

log = logging.getLogger(__name__)
IDLE_POLL_SECONDS = 5.0  # a backstop only: queuing a notification wakes the sender at once
FAULT_PAUSE_SECONDS = 1.0
LEASE_MARGIN_SECONDS = 5.0  # beyond the HTTP timeout, for recording the attempt
KEEPALIVE_SECONDS = 2.0  # idle connections kept no longer: below the platform's keep-alive timeout


class NotificationSender:
    def __init__(
        self,
        queue: DeliveryQueue,
        schedule: Sequence[float],
        timeout_seconds: float,
        *,
        clock: Callable[[], datetime] = now_utc,
    ) -> None:
        self._queue = queue
        self._clock = clock
        self._schedule = list(schedule)
        # Idle connections are let go before a server would close them (uvicorn: 5 s): otherwise a
        # notification can go out on a connection the platform just closed, fail, and wait for its next
        # scheduled attempt, minutes later (seen in bench-pipeline).
        self._client = httpx.AsyncClient(
            timeout=timeout_seconds,
            follow_redirects=False,
            verify=tls(),
            limits=httpx.Limits(keepalive_expiry=KEEPALIVE_SECONDS),
        )
        self._wake = asyncio.Event()
        self._lease = timedelta(seconds=timeout_seconds + LEASE_MARGIN_SECONDS)
        self._in_flight: dict[int, asyncio.Task[None]] = {}

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        """Until cancelled: start every due delivery, then sleep until the next one is due."""
        while True:
            self._wake.clear()
            for delivery in await self._queue.claim_due(self._clock(), self._lease):
                self._in_flight[delivery.id] = asyncio.create_task(self._attempt(delivery))
            next_due = await self._queue.next_due_at()
            pause = IDLE_POLL_SECONDS
            if next_due is not None:
                pause = min(pause, max(0.0, (next_due - self._clock()).total_seconds()))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=pause)

    async def _attempt(self, delivery: Delivery) -> None:
        try:
            status, body = await self._post(delivery)
            at = self._clock()
            retry_at = None
            if not is_acknowledged(status, body) and delivery.attempts < len(self._schedule):
                retry_at = at + timedelta(seconds=self._schedule[delivery.attempts])
            await self._queue.record_attempt(delivery, at, status, body, retry_at)
        except Exception:
            # Its lease runs out and a later round tries again; the pause keeps a lasting fault (a broken
            # database, say) from spinning. One delivery's trouble never stops the sender.
            log.exception("notification %s could not be attempted", delivery.notify_id)
            await asyncio.sleep(FAULT_PAUSE_SECONDS)
        finally:
            self._in_flight.pop(delivery.id, None)
            self._wake.set()  # its retry time may now be the earliest

    async def _post(self, delivery: Delivery) -> tuple[int | None, str]:
        try:
            try:
                answer = await self._client.post(delivery.url, data=delivery.params)
            except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError):
                # A kept-alive connection closed under us: once more, at once, on a fresh one (a
                # notification is idempotent: the platform settles it once however often it comes).
                answer = await self._client.post(delivery.url, data=delivery.params)
        except httpx.HTTPError as exc:
            log.info("notification %s to %s failed: %r", delivery.notify_id, delivery.url, exc)
            return None, f"{type(exc).__name__}: {exc}"
        return answer.status_code, answer.text

    async def close(self) -> None:
        """Stop; attempts in flight are cut short, unrecorded, and made again on the next start."""
        interrupted = dict(self._in_flight)
        for task in interrupted.values():
            task.cancel()
        await asyncio.gather(*interrupted.values(), return_exceptions=True)
        await self._client.aclose()
        # Due again at once rather than at the end of their lease: the next start sends them first.
        await self._queue.release(set(interrupted), self._clock())
