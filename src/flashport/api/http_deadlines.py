"""Deadlines on every HTTP connection, for the buy edge and for uvicorn's protocol behind it (README,
"Connection timeouts"): a slow or silent client must not hold a connection, a socket and its buffers.

- **Headers** must be complete within ``header_seconds`` of the connection opening (first request) or of
  the request's first byte (later requests), however they trickle in.
- **Bodies** must arrive at ``body_min_rate`` bytes a second on average, after ``body_grace_seconds``
  (the rule Kestrel calls MinRequestBodyDataRate). While the server itself has stopped reading (flow
  control: the app has not taken what it has), the clock restarts: that wait is not the client's.
- **Idle** keep-alive connections are closed by the keep-alive timeout, which each protocol already
  keeps (uvicorn's ``timeout_keep_alive``, set from settings by ``flashport serve``).

A missed deadline closes the connection; there is no request to answer yet, so nothing is written.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class HttpTimeouts:
    header_seconds: float = 5.0
    body_min_rate: float = 240.0  # bytes a second
    body_grace_seconds: float = 5.0

    @classmethod
    def of(cls, settings: Any) -> HttpTimeouts:
        """From the platform's settings; the defaults when there are none (an app without Flashport's
        context in its lifespan state)."""
        if settings is None:
            return cls()
        return cls(
            settings.http_header_timeout_seconds,
            settings.http_body_min_rate,
            settings.http_body_grace_seconds,
        )


_IDLE, _HEADERS, _BODY = 0, 1, 2


class ConnectionDeadlines:
    """One connection's header and body deadlines. The protocol tells it where the request stands;
    it calls ``close`` when the client is too slow.

    Why a watchdog rather than a timer per deadline: the buy edge answers thousands of purchases a
    second, and arming and cancelling two timers per request cost more than noting the time. Each
    connection instead has one timer that looks every :attr:`tick` seconds while a request is coming
    in (and stops while the connection is idle), so a deadline is caught up to one tick late."""

    __slots__ = ("_close", "_loop", "_paused", "_phase", "_received", "_since", "_timeouts", "_timer", "tick")

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        timeouts: HttpTimeouts,
        close: Callable[[], None],
        reading_paused: Callable[[], bool] = lambda: False,
    ) -> None:
        self._loop = loop
        self._timeouts = timeouts
        self._close = close
        self._paused = reading_paused
        self._timer: asyncio.TimerHandle | None = None
        self._phase = _IDLE
        self._since = 0.0
        self._received = 0
        self.tick = min(1.0, timeouts.header_seconds / 4, max(timeouts.body_grace_seconds, 0.2) / 4)

    def connection_opened(self) -> None:
        """The first request's headers are due ``header_seconds`` from now, even if no byte comes."""
        self._phase, self._since = _HEADERS, self._loop.time()
        self._watch()

    def request_begun(self) -> None:
        """A request's first byte: its headers are due (the first request's since the connection)."""
        if self._phase == _IDLE:
            self._phase, self._since = _HEADERS, self._loop.time()
            if self._timer is None:
                self._watch()

    def headers_done(self) -> None:
        """Headers in: the body, if any, is watched until :meth:`request_done`."""
        self._phase, self._since, self._received = _BODY, self._loop.time(), 0

    def body_received(self, size: int) -> None:
        self._received += size

    def request_done(self) -> None:
        """The whole request is in: what follows is the server's time, then the keep-alive timeout."""
        self._phase = _IDLE

    def stop(self) -> None:
        self._phase = _IDLE
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _watch(self) -> None:
        self._timer = self._loop.call_later(self.tick, self._look)

    def _look(self) -> None:
        self._timer = None
        if self._phase == _IDLE:
            return  # idle: the keep-alive timeout's business; the next request's first byte re-arms
        now, t = self._loop.time(), self._timeouts
        if self._phase == _HEADERS:
            late = now - self._since > t.header_seconds
        elif self._paused():  # the server is not reading: the client cannot be blamed for the pace
            self._since, self._received, late = now, 0, False
        else:
            counted = now - self._since - t.body_grace_seconds
            late = counted > 0 and self._received < counted * t.body_min_rate
        if late:
            self._phase = _IDLE
            self._close()
        else:
            self._watch()
