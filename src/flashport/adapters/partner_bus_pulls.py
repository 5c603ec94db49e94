"""Pull requests on a JetStream durable consumer, answered into one inbox of this connection.

Why not nats-py's ``fetch``: it reads each message with ``next_msg``, which makes a task and a timer per
message, and it returns a batch only when it is full or its wait ran out. At the thousands of partner
events a second of a rush, that reading alone kept the worker's queueing stage busy for about half of
its time, and it returned short batches after waiting its whole wait (see README, "Partner feeds at
rush rates"). Here a callback puts each message in a buffer and wakes the one waiting caller only when
what it waits for happened; each request has a reply subject of its own, so the end of an old one (a
404, 408 or 409 status) is not taken for the end of the current one; a message that comes after its
caller gave up waiting stays in the buffer for the next call, still unacknowledged."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

HEARTBEAT = "100"
STOP_MARGIN_SECONDS = 1.0  # a request whose end never came (a reconnect) is forgotten this long after


@dataclass
class _Open:
    reply: str  # its own reply subject: where its end (a status message) comes
    left: int  # messages it may still bring
    until: float  # loop time after which it is over in any case


class Pulls:
    """At most one request open at a time, so every message comes for it (a delivered message carries
    the subject it was published on, not the request's)."""

    def __init__(self, nc: Any, next_subject: str, inbox: str) -> None:
        self._nc = nc
        self._next_subject = next_subject  # $JS.API.CONSUMER.MSG.NEXT.<stream>.<consumer>
        self._inbox = inbox
        self._open: _Open | None = None
        self._buffer: list[Any] = []
        self._serial = 0
        self._woken = asyncio.Event()
        self._wake_when: Callable[[], bool] = lambda: False

    @property
    def subject(self) -> str:
        """What to subscribe :meth:`on_message` to."""
        return f"{self._inbox}.*"

    async def on_message(self, msg: Any) -> None:
        status = msg.headers.get("Status") if msg.headers else None
        request = self._open
        if status is None:
            self._buffer.append(msg)
            if request is not None:
                request.left -= 1
                if request.left <= 0:  # fulfilled: the server says nothing more
                    self._open = None
        elif status != HEARTBEAT and request is not None and msg.subject == request.reply:
            self._open = None  # 404 nothing there, 408 expired, 409 refused: the request is over
        if self._wake_when():
            self._woken.set()

    async def take(self, batch: int, wait: float, fill: float) -> list[Any]:
        """Up to ``batch`` messages: those the consumer holds now, else the first to come within
        ``wait`` seconds; then, short of a full batch, what else comes within ``fill`` seconds."""
        if len(self._buffer) < batch and not self._pending():
            # What the consumer holds now, at once (the server answers at once, 404 if nothing).
            await self._request(batch - len(self._buffer), wait, no_wait=True)
            await self._until(lambda: self._open is None or len(self._buffer) >= batch, wait)
        if not self._buffer and not self._pending():
            await self._request(batch, wait, no_wait=False)  # lingers on the server until it expires
        if not self._buffer:
            await self._until(lambda: bool(self._buffer) or self._open is None, wait)
        if self._buffer and len(self._buffer) < batch and self._pending():
            await self._until(lambda: len(self._buffer) >= batch or self._open is None, fill)
        taken, self._buffer = self._buffer[:batch], self._buffer[batch:]
        return taken

    def _pending(self) -> bool:
        if self._open is not None and self._open.until < asyncio.get_running_loop().time():
            self._open = None  # its end never came (a reconnect): forgotten
        return self._open is not None

    async def _request(self, batch: int, wait: float, *, no_wait: bool) -> None:
        self._serial += 1
        reply = f"{self._inbox}.{self._serial}"
        body: dict[str, Any] = {"batch": batch}
        if no_wait:
            body["no_wait"] = True
        else:
            body["expires"] = int(wait * 1e9)
        until = asyncio.get_running_loop().time() + wait + STOP_MARGIN_SECONDS
        self._open = _Open(reply, batch, until)
        await self._nc.publish(self._next_subject, json.dumps(body).encode(), reply=reply)

    async def _until(self, done: Callable[[], bool], seconds: float) -> None:
        self._wake_when = done
        self._woken.clear()
        try:
            if not done():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._woken.wait(), seconds)
        finally:
            self._wake_when = lambda: False
