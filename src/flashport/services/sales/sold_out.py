"""The sold-out board: each API process remembers which items are gone and answers "sold out" from
memory, without a Redis or database call. When units come back (an order expired or was cancelled, a
top-up) or an operator changes the item, the stock engine publishes the item id and every process
clears its flag (and forgets the item's cached terms: bootstrap's ``_item_news``). A flag also fades after
``ttl`` seconds, so a lost message (or the SQL engine, which has no pub/sub) costs at most one real
check per item per ``ttl``."""

from __future__ import annotations

import time


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
