"""The partner events' bus on NATS JetStream (``FLASHPORT_PARTNER_BUS=nats``): the relay publishes each
partner event once, and the delivery workers pull them from one durable consumer.

Contract: :meth:`NatsPartnerBus.publish` returns once JetStream has stored every message (or said it
already had it: each message carries ``Nats-Msg-Id``, and the stream drops a second copy within its
duplicate window); :meth:`NatsPartnerBus.fetch` hands out messages that are handed out again to any
worker if not acknowledged within ``ack_wait``. The stream and the consumer are made on first use if
missing. Failure policy: a NATS that cannot be reached raises :class:`BusUnavailable`; the worker's
stage backs off and tries again, and nothing is lost (the relay's cursor did not move, the consumer
did not acknowledge)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import nats
from nats.errors import Error as NatsError
from nats.errors import TimeoutError as NatsTimeout
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, StreamConfig
from nats.js.errors import NotFoundError

from flashport.adapters.partner_bus_pulls import Pulls

DUPLICATE_WINDOW_SECONDS = 3600.0  # a relay that restarts within it republishes without copies
MAX_AGE_SECONDS = 7 * 24 * 3600.0  # the feed in the database is the record; the stream is transport
# A fetch that has some messages waits this much longer for more: a batch of one or two events at a
# time costs a transaction and a delivery each, and in a rush the worker could not keep up with that.
FILL_SECONDS = 0.05
PUBLISH_TIMEOUT_SECONDS = 10.0  # for a pass's acknowledgements, all awaited at once


class BusUnavailable(Exception):
    """NATS could not be reached or did not answer."""


@dataclass(frozen=True)
class Outgoing:
    subject: str
    msg_id: str
    body: bytes


class Received:
    """One message pulled from the consumer; :meth:`ack` once what it asked for is stored."""

    def __init__(self, msg: Any) -> None:
        self._msg = msg
        self.data: bytes = msg.data

    async def ack(self) -> None:
        await self._msg.ack()


class NatsPartnerBus:
    def __init__(self, url: str, stream: str, prefix: str, consumer: str, *, ack_wait: float = 30.0) -> None:
        self.url, self.stream, self.prefix, self.consumer = url, stream, prefix, consumer
        self.ack_wait = ack_wait
        self._nc: Any = None
        self._js: Any = None
        self._pulls: Pulls | None = None
        self._lock = asyncio.Lock()

    def subject_for(self, partner_id: int, type_: str) -> str:
        return f"{self.prefix}.{partner_id}.{type_}"

    async def _jetstream(self) -> Any:
        async with self._lock:
            if self._js is None:
                try:
                    self._nc = await nats.connect(
                        self.url, connect_timeout=2, max_reconnect_attempts=-1, allow_reconnect=True
                    )
                    self._js = self._nc.jetstream()
                    await self._ensure_stream()
                except (NatsError, OSError) as exc:
                    await self._drop()
                    raise BusUnavailable(f"NATS at {self.url}: {exc}") from exc
            return self._js

    async def _ensure_stream(self) -> None:
        try:
            await self._js.stream_info(self.stream)
        except NotFoundError:
            await self._js.add_stream(
                StreamConfig(
                    name=self.stream,
                    subjects=[f"{self.prefix}.>"],
                    duplicate_window=DUPLICATE_WINDOW_SECONDS,
                    max_age=MAX_AGE_SECONDS,
                )
            )

    async def publish(self, messages: Sequence[Outgoing]) -> int:
        """Store ``messages`` in the stream; returns how many were new (not dropped as copies).

        Every message is sent before any acknowledgement is awaited, and the acknowledgements come back
        to one subscription: a request per message (a task and a timer each, awaited 500 at a time)
        cost the worker more than everything else it did for an event in a rush."""
        js = await self._jetstream()
        acks: list[asyncio.Future[Any]] = []
        try:
            for m in messages:
                acks.append(
                    await js.publish_async(
                        m.subject,
                        m.body,
                        headers={"Nats-Msg-Id": m.msg_id},
                        # None: no task and timer per message (a pass is far below the 4,000 slots)
                        wait_stall=None,
                    )
                )
            done = await asyncio.wait_for(asyncio.gather(*acks), PUBLISH_TIMEOUT_SECONDS)
        except (NatsError, OSError) as exc:  # asyncio's timeout is an OSError
            for ack in acks:  # frees its slot among the acknowledgements awaited
                ack.cancel()
            raise BusUnavailable(f"publishing to {self.stream}: {exc}") from exc
        return sum(0 if a.duplicate else 1 for a in done)

    async def fetch(self, batch: int, wait: float) -> list[Received]:
        """Up to ``batch`` messages for the delivery workers (none after ``wait`` seconds)."""
        js = await self._jetstream()
        try:
            if self._pulls is None:
                self._pulls = await self._subscribe(js)
            return [Received(m) for m in await self._pulls.take(batch, wait, min(wait, FILL_SECONDS))]
        except (NatsError, OSError) as exc:
            raise BusUnavailable(f"fetching from {self.consumer}: {exc}") from exc

    async def _subscribe(self, js: Any) -> Pulls:
        """The durable consumer (made if missing) and this connection's inbox for its messages."""
        try:
            await js.consumer_info(self.stream, self.consumer)
        except NotFoundError:
            await js.add_consumer(
                self.stream,
                ConsumerConfig(
                    durable_name=self.consumer,
                    filter_subject=f"{self.prefix}.>",
                    ack_policy=AckPolicy.EXPLICIT,
                    ack_wait=self.ack_wait,
                    max_ack_pending=20_000,
                ),
            )
        pulls = Pulls(
            self._nc, f"$JS.API.CONSUMER.MSG.NEXT.{self.stream}.{self.consumer}", self._nc.new_inbox()
        )
        await self._nc.subscribe(pulls.subject, cb=pulls.on_message)
        return pulls

    async def stored_at(self) -> dict[str, datetime]:
        """When JetStream stored each message in the stream, by ``Nats-Msg-Id`` (benchmarks: where the
        time goes). Reads the whole stream through a consumer of its own, which it then deletes."""
        js = await self._jetstream()
        sub = await js.pull_subscribe(
            f"{self.prefix}.>",
            stream=self.stream,
            config=ConsumerConfig(ack_policy=AckPolicy.NONE, deliver_policy=DeliverPolicy.ALL),
        )
        found: dict[str, datetime] = {}
        try:
            while True:
                try:
                    got = await sub.fetch(1000, timeout=1.0)
                except (NatsTimeout, TimeoutError):
                    return found
                for m in got:
                    found[(m.headers or {}).get("Nats-Msg-Id", "")] = m.metadata.timestamp
        finally:
            await sub.unsubscribe()

    async def delete_stream(self) -> None:
        """Remove the stream and its consumers (tests and benchmarks clean up with this)."""
        js = await self._jetstream()
        with contextlib.suppress(NotFoundError):
            await js.delete_stream(self.stream)

    async def _drop(self) -> None:
        nc, self._nc, self._js, self._pulls = self._nc, None, None, None
        if nc is not None:
            with contextlib.suppress(NatsError):
                await nc.close()

    async def close(self) -> None:
        async with self._lock:
            await self._drop()
