"""The buy path's per-process state: item terms cached in memory, the sold-out board and the answers
this process gave. Built once per process by bootstrap; :func:`flashport.services.sales.buying.buy`
reads it on every purchase."""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from dataclasses import dataclass, replace

from sqlalchemy.ext.asyncio import AsyncEngine

from flashport.adapters.db import orders_repo
from flashport.adapters.db.engine import reading
from flashport.adapters.stock.interface import StockEngine
from flashport.domain.limits import max_units_per_order
from flashport.domain.orders import MAX_UNITS_PER_ORDER, ItemTerms, SavedPurchase
from flashport.services.sales.sold_out import SoldOutBoard


@dataclass(frozen=True)
class SingleLimit:
    """The single-transaction limit as the buy path applies it: the limit, and what every order adds
    to its goods in dutiable value (freight and insurance)."""

    limit_fen: int
    extras_fen: int = 0

    def units_of(self, terms: ItemTerms) -> ItemTerms:
        units = max_units_per_order(
            terms.sale_price_fen, self.extras_fen, self.limit_fen, MAX_UNITS_PER_ORDER
        )
        return replace(terms, max_units=units)


class BuyPath:
    """Per-process state of the hot path: cached item terms, the sold-out board, recent answers."""

    def __init__(
        self,
        stock: StockEngine,
        board: SoldOutBoard,
        engine: AsyncEngine,
        *,
        single_limit: SingleLimit | None = None,
        terms_ttl: float = 2.0,
        remembered_answers: int = 100_000,
    ) -> None:
        self.stock = stock
        self.board = board
        self._engine = engine
        self.single_limit = single_limit
        self._terms_ttl = terms_ttl
        self._terms: dict[int, tuple[float, asyncio.Future[ItemTerms | None]]] = {}
        # (buyer, key) -> purchases this process answered, so that a retry gets its first answer again
        # from memory (after the item sold out too).
        self._answers: OrderedDict[tuple[int, str], SavedPurchase] = OrderedDict()
        self._answers_cap = remembered_answers

    async def terms(self, item_id: int) -> ItemTerms | None:
        """Item terms from memory; one database read per item per ``terms_ttl`` however many ask."""
        cached = self._terms.get(item_id)
        if cached is not None and cached[0] > time.monotonic():
            return await cached[1]
        future: asyncio.Future[ItemTerms | None] = asyncio.get_running_loop().create_future()
        self._terms[item_id] = (time.monotonic() + self._terms_ttl, future)
        try:
            async with reading(self._engine) as conn:
                terms = await orders_repo.load_terms(conn, item_id)
            if terms is not None and self.single_limit is not None:  # once per load, not per purchase
                terms = self.single_limit.units_of(terms)
        except BaseException as exc:  # cancelled too: no caller may wait forever on this future
            self._terms.pop(item_id, None)
            future.set_exception(exc)
            future.exception()  # mark retrieved: the callers awaiting it get it as well
            raise
        # Only now, with the connection given back: the callers who came later wake up, and this one,
        # which came first, goes on without yielding, so it reaches the stock engine ahead of them.
        future.set_result(terms)
        return terms

    def forget_terms(self, item_ids: list[int]) -> None:
        for item_id in item_ids:
            self._terms.pop(item_id, None)

    def recall(self, buyer_id: int, key: str) -> SavedPurchase | None:
        return self._answers.get((buyer_id, key))

    def remember(self, buyer_id: int, key: str, saved: SavedPurchase) -> None:
        self._answers[(buyer_id, key)] = saved
        if len(self._answers) > self._answers_cap:
            self._answers.popitem(last=False)
