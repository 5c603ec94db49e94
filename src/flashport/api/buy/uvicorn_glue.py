"""Everything the buy edge takes from uvicorn beyond its documented API, in one place.

uvicorn documents ``--http`` as a choice between its own protocols; that it also accepts a class, and
what that class is given and expected to do, is its internals. pyproject.toml pins uvicorn to the
versions the edge's tests (``tests/integration/test_buy_edge.py``, ``test_buy_lanes_parity.py``) passed
on: 0.30.0, 0.40.0, 0.50.0, 0.54.0 and 0.55.0. Before raising the upper bound, check each point below
against the new version's ``uvicorn/server.py`` and ``uvicorn/protocols/http/httptools_impl.py``, and
run those tests with it:

1. ``Config(http=<class>)`` makes ``config.http_protocol_class`` that class, and ``Server.startup``'s
   ``create_protocol`` calls it as ``cls(config=, server_state=, app_state=, _loop=)`` for each
   connection. ``app_state`` is the dict the app's lifespan yielded (the lifespan state).
2. ``Config.loaded`` / ``Config.load()`` and ``Config.timeout_keep_alive`` (seconds an idle keep-alive
   connection is kept).
3. ``ServerState.connections``: the protocols a graceful stop calls ``shutdown()`` on and waits for;
   ``ServerState.tasks``: the tasks it waits for; ``ServerState.total_requests``: counted against
   ``--limit-max-requests``.
4. ``uvicorn.protocols.http.httptools_impl.HttpToolsProtocol`` takes the same four arguments, and a
   connection can be given to it mid-stream: ``connection_made(transport)`` then ``data_received``
   with the bytes of the requests it should answer (as uvicorn does for a WebSocket upgrade).
5. For the connection deadlines (:class:`GuardedHttpToolsProtocol`): its parser callbacks
   ``on_message_begin``, ``on_headers_complete``, ``on_body``, ``on_message_complete``, and its
   ``loop``, ``transport`` and ``flow.read_paused`` attributes.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from flashport.api.http_deadlines import ConnectionDeadlines, HttpTimeouts

CONTEXT_KEY = "flashport_ctx"  # where the app's lifespan leaves the service context (lifespan state)


def timeouts_of(app_state: dict[str, Any]) -> HttpTimeouts:
    """The connection deadlines from the settings of the context the app's lifespan left."""
    ctx = app_state.get(CONTEXT_KEY)
    return HttpTimeouts.of(ctx.settings if ctx is not None else None)


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with the connection deadlines (``api/http_deadlines.py``): headers
    in time, bodies at a minimum rate. Its own keep-alive timeout closes idle connections."""

    def __init__(
        self,
        config: Any,
        server_state: Any,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config=config, server_state=server_state, app_state=app_state, _loop=_loop)
        self._deadlines = ConnectionDeadlines(
            self.loop, timeouts_of(app_state), self._too_slow, lambda: bool(self.flow.read_paused)
        )

    def _too_slow(self) -> None:
        if not self.transport.is_closing():
            self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._deadlines.connection_opened()

    def connection_lost(self, exc: Exception | None) -> None:
        self._deadlines.stop()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._deadlines.request_begun()

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        self._deadlines.headers_done()

    def on_body(self, body: bytes) -> None:
        super().on_body(body)
        self._deadlines.body_received(len(body))

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._deadlines.request_done()


class UvicornSeat:
    """One connection's place in a uvicorn server: built from the arguments uvicorn gives a protocol
    (point 1), it registers the connection, its tasks and its requests where uvicorn looks for them."""

    __slots__ = ("_app_state", "_config", "_server_state", "loop")

    def __init__(
        self,
        config: Any,
        server_state: Any,
        app_state: dict[str, Any],
        loop: asyncio.AbstractEventLoop | None,
    ) -> None:
        if not config.loaded:
            config.load()
        self._config = config
        self._server_state = server_state
        self._app_state = app_state
        self.loop = loop or asyncio.get_event_loop()

    def lifespan_value(self, key: str) -> Any:
        """What the app's lifespan left under ``key`` in the lifespan state, or None."""
        return self._app_state.get(key)

    @property
    def keep_alive_timeout(self) -> float:
        return float(self._config.timeout_keep_alive)

    def join(self, protocol: asyncio.Protocol) -> None:
        """A graceful stop will call ``protocol.shutdown()`` and wait until :meth:`leave`."""
        self._server_state.connections.add(protocol)

    def leave(self, protocol: asyncio.Protocol) -> None:
        self._server_state.connections.discard(protocol)

    def track(self, task: asyncio.Task[None]) -> None:
        """A graceful stop waits for ``task`` to finish."""
        tasks = self._server_state.tasks
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    def count_request(self) -> None:
        self._server_state.total_requests += 1

    @property
    def timeouts(self) -> HttpTimeouts:
        return timeouts_of(self._app_state)

    def successor(self) -> asyncio.Protocol:
        """uvicorn's own protocol for this connection, to be given the transport (point 4), with the
        connection deadlines (point 5)."""
        return GuardedHttpToolsProtocol(
            config=self._config,
            server_state=self._server_state,
            app_state=self._app_state,
            _loop=self.loop,
        )
