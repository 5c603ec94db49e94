"""The sold-out board: each API process remembers which items are gone and answers "sold out" from
memory, without a Redis or database call. When units come back (an order expired or was cancelled),
the stock engine publishes the item id and every process clears its flag. A flag also fades after
``ttl`` seconds, so a lost message (or the SQL engine, which has no pub/sub) costs at most one real
check per item per ``ttl``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

import redis.asyncio as aioredis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)


class SoldOutBoard:
    def __init__(self, ttl: float) -> None:
        self._ttl = ttl
        self._until: dict[int, float] = {}

    def mark(self, item_id: int) -> None:
        self._until[item_id] = time.monotonic() + self._ttl

    def clear(self, item_id: int) -> None:
        self._until.pop(item_id, None)

    def is_sold_out(self, item_id: int) -> bool:
        until = self._until.get(item_id)
        if until is None:
            return False
        if time.monotonic() >= until:
            del self._until[item_id]
            return False
        return True


class RestockListener:
    """Clears board flags on messages of the engine's restock channel (Redis pub/sub)."""

    def __init__(self, client: aioredis.Redis, channel: str, board: SoldOutBoard) -> None:
        self._client = client
        self._channel = channel
        self._board = board
        self._task: asyncio.Task[None] | None = None
        self.ready = asyncio.Event()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            try:
                async with self._client.pubsub() as pubsub:
                    await pubsub.subscribe(self._channel)
                    self.ready.set()
                    async for message in pubsub.listen():
                        if message.get("type") == "message":
                            self._board.clear(int(message["data"]))
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError, ValueError):
                log.warning("restock listener lost Redis; retrying in 1 s", exc_info=True)
                self.ready.clear()
                await asyncio.sleep(1)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
