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
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


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

    def successor(self) -> asyncio.Protocol:
        """uvicorn's own protocol for this connection, to be given the transport (point 4)."""
        return HttpToolsProtocol(
            config=self._config,
            server_state=self._server_state,
            app_state=self._app_state,
            _loop=self.loop,
        )
