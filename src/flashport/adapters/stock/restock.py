"""Restock news over Redis pub/sub: the engine publishes an item id whenever units come back (an order
expired or was cancelled); every API process that follows the channel hears it and calls back.

Failure policy: a lost connection is retried every second, and meanwhile nothing is heard. That is
safe because the sold-out flags this news clears also fade on their own after a few seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from redis.exceptions import RedisError

from flashport.adapters.redis_client import RedisClient

log = logging.getLogger(__name__)


class RestockListener:
    """Calls ``on_restock(item_id)`` for every message of ``channel``; ``ready`` is set while subscribed."""

    def __init__(self, client: RedisClient, channel: str, on_restock: Callable[[int], None]) -> None:
        self._client = client
        self._channel = channel
        self._on_restock = on_restock
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
                            self._on_restock(int(message["data"]))
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
