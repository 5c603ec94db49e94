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

DUPLICATE_WINDOW_SECONDS = 3600.0  # a relay that restarts within it republishes without copies
MAX_AGE_SECONDS = 7 * 24 * 3600.0  # the feed in the database is the record; the stream is transport
PUBLISH_CHUNK = 500  # acknowledgements awaited at once


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
        self._sub: Any = None
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
        """Store ``messages`` in the stream; returns how many were new (not dropped as copies)."""
        js = await self._jetstream()
        new = 0
        try:
            for start in range(0, len(messages), PUBLISH_CHUNK):
                acks = await asyncio.gather(
                    *(
                        js.publish(m.subject, m.body, headers={"Nats-Msg-Id": m.msg_id})
                        for m in messages[start : start + PUBLISH_CHUNK]
                    )
                )
                new += sum(0 if a.duplicate else 1 for a in acks)
        except (NatsError, OSError) as exc:
            raise BusUnavailable(f"publishing to {self.stream}: {exc}") from exc
        return new

    async def fetch(self, batch: int, wait: float) -> list[Received]:
        """Up to ``batch`` messages for the delivery workers (none after ``wait`` seconds)."""
        js = await self._jetstream()
        try:
            if self._sub is None:
                self._sub = await js.pull_subscribe(
                    f"{self.prefix}.>",
                    durable=self.consumer,
                    stream=self.stream,
                    config=ConsumerConfig(
                        ack_policy=AckPolicy.EXPLICIT, ack_wait=self.ack_wait, max_ack_pending=20_000
                    ),
                )
            return [Received(m) for m in await self._sub.fetch(batch, timeout=wait)]
        except (NatsTimeout, TimeoutError):  # nothing came in time (asyncio's timeout is an OSError)
            return []
        except (NatsError, OSError) as exc:
            raise BusUnavailable(f"fetching from {self.consumer}: {exc}") from exc

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
        nc, self._nc, self._js, self._sub = self._nc, None, None, None
        if nc is not None:
            with contextlib.suppress(NatsError):
                await nc.close()

    async def close(self) -> None:
        async with self._lock:
            await self._drop()
