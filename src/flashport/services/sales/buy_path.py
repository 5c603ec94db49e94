"""The buy path's per-process state: item terms cached in memory, the sold-out board and the answers
this process gave. Built once per process by bootstrap; :func:`flashport.services.sales.buying.buy`
reads it on every purchase."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace

from sqlalchemy.ext.asyncio import AsyncEngine

from flashport.adapters.db import orders_repo
from flashport.adapters.db.engine import reading
from flashport.adapters.stock.interface import StockEngine
from flashport.domain.limits import max_units_per_order
from flashport.domain.orders import MAX_UNITS_PER_ORDER, ItemTerms, SavedPurchase
from flashport.services.last_known import LastKnown
from flashport.services.sales.sold_out import SoldOutBoard

# How long past their ttl an item's terms are still served while their refresh is stalled or failing
# (the class docstring says why that is safe): a database stall of a few seconds costs no purchase a
# wait, a longer one makes purchases wait for the read again (within the deadline).
TERMS_STALE_SECONDS = 10.0


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
    """Per-process state of the hot path: cached item terms, the sold-out board, recent answers.

    Item terms are a :class:`~flashport.services.last_known.LastKnown` per item: read at most once per
    ``terms_ttl`` however many ask and, while a refresh is stalled or failing, served as last read for
    up to ``TERMS_STALE_SECONDS`` more. That is safe: terms (price, limits, the sale's window and pause)
    change rarely; the process that changes them forgets its copy at once (``inventory.items_changed``),
    the others when the Redis engine's news of the change reaches them (at once; bootstrap's
    ``_item_news``), or after their ttl (the SQL engine, or a lost message), so serving stale makes
    that at most seconds later, and only while the database does not answer their read. What is sold
    is still decided by the stock engine (units, per-buyer limits) and a purchase is answered only once
    the database has its order. With no usable copy (the first read, after a change, or too old) a
    purchase waits for the read at most the ``deadline`` it is given (what is left of the buy
    deadline), then is answered 503 with Retry-After."""

    def __init__(
        self,
        stock: StockEngine,
        board: SoldOutBoard,
        engine: AsyncEngine,
        *,
        single_limit: SingleLimit | None = None,
        terms_ttl: float = 2.0,
        remembered_answers: int = 100_000,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stock = stock
        self.board = board
        self._engine = engine
        self.single_limit = single_limit
        self._terms_ttl = terms_ttl
        self._monotonic = monotonic
        self._terms: dict[int, LastKnown[ItemTerms | None]] = {}
        # (buyer, key) -> purchases this process answered, so that a retry gets its first answer again
        # from memory (after the item sold out too).
        self._answers: OrderedDict[tuple[int, str], SavedPurchase] = OrderedDict()
        self._answers_cap = remembered_answers

    async def terms(self, item_id: int, deadline: float) -> ItemTerms | None:
        """Item terms from memory (None: no such item); see the class docstring for when it reads and
        how ``deadline`` (seconds) bounds the wait."""
        known = self._terms.get(item_id)
        if known is not None and known.fresh_until > self._monotonic():
            return known.value
        if known is None:
            known = self._terms[item_id] = LastKnown(
                ttl=self._terms_ttl,
                stale_for=TERMS_STALE_SECONDS,
                monotonic=self._monotonic,
                what=f"the terms of item {item_id}",
            )
        return await known.get(lambda: self._read_terms(item_id), deadline)

    async def _read_terms(self, item_id: int) -> ItemTerms | None:
        async with reading(self._engine) as conn:
            terms = await orders_repo.load_terms(conn, item_id)
        if terms is not None and self.single_limit is not None:  # once per read, not per purchase
            terms = self.single_limit.units_of(terms)
        return terms

    def forget_terms(self, item_ids: list[int]) -> None:
        for item_id in item_ids:
            known = self._terms.pop(item_id, None)
            if known is not None:
                known.forget()  # a read begun before the change brings nothing back

    def recall(self, buyer_id: int, key: str) -> SavedPurchase | None:
        return self._answers.get((buyer_id, key))

    def remember(self, buyer_id: int, key: str, saved: SavedPurchase) -> None:
        self._answers[(buyer_id, key)] = saved
        if len(self._answers) > self._answers_cap:
            self._answers.popitem(last=False)
