"""What one purchase costs: the keys it touches stay in one Redis Cluster slot, and the database sees
exactly the statements the design promises (a stray query on the hot path fails here)."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from redis.crc import key_slot

from flashport.adapters.stock.redis import RedisStockEngine
from flashport.services.context import Context
from flashport.services.sales import buying
from tests.sale_builder import make_buyers, make_sale


class StatementLog:
    def __init__(self, ctx: Context) -> None:
        self.statements: list[str] = []
        self._engine = ctx.engine.sync_engine

    def __enter__(self) -> StatementLog:
        sa.event.listen(self._engine, "before_cursor_execute", self._record)
        return self

    def __exit__(self, *exc: object) -> None:
        sa.event.remove(self._engine, "before_cursor_execute", self._record)

    def _record(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        verb = statement.split(None, 1)[0].upper()
        if verb not in {"BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE"}:
            self.statements.append(" ".join(statement.split())[:60])


def test_every_key_of_one_item_hashes_to_the_same_cluster_slot() -> None:
    engine = RedisStockEngine.__new__(RedisStockEngine)
    engine.prefix = "fp"
    for item_id in (1, 42, 987654):
        keys = [
            engine.key(item_id, part)
            for part in ("meta", "taken", "buyers", "idem:17:3f2a-key", f"released:{'a' * 36}")
        ]
        assert len({key_slot(k.encode()) for k in keys}) == 1, keys


async def test_a_purchase_costs_the_promised_statements_and_no_more(buy_ctx: Context) -> None:
    sale = await make_sale(buy_ctx, quantity=10, limit=5)
    [(buyer, _)] = await make_buyers(buy_ctx, 1)
    await buying.buy(buy_ctx, buyer, sale.item_id, 1, "warm-up")  # loads and caches the item's terms
    writer = getattr(buy_ctx.stock, "_writer", None)
    batches: list[list[str]] = []
    if writer is not None:  # PostgreSQL + Redis: the order writer's COPY, outside SQLAlchemy
        real_write = writer.write

        async def spying_write(drafts: Any) -> None:
            batches.append([d.id for d in drafts])
            await real_write(drafts)

        writer.write = spying_write
    try:
        with StatementLog(buy_ctx) as log:
            order = (await buying.buy(buy_ctx, buyer, sale.item_id, 1, "measured")).order
    finally:
        if writer is not None:
            writer.write = real_write
    verbs = [
        s.split()[0].upper() + " " + s.split()[2] if s.upper().startswith("INSERT") else s.split()[0].upper()
        for s in log.statements
    ]
    if writer is not None:
        # No SQLAlchemy statement at all; one COPY batch (orders, lines, outbox) holding this order.
        assert verbs == [], log.statements
        assert batches == [[order["id"]]]
    elif buy_ctx.stock.name == "redis":
        # Nothing but the group commit's three multi-row inserts.
        assert verbs == ["INSERT orders", "INSERT order_lines", "INSERT outbox"], log.statements
    else:
        # Idempotency look-up, the conditional stock UPDATE, the per-buyer upsert, then the inserts.
        assert verbs == [
            "SELECT",
            "UPDATE",
            "INSERT buyer_item_units",
            "INSERT orders",
            "INSERT order_lines",
            "INSERT outbox",
        ], log.statements


@pytest.mark.parametrize("orders_in_rush", [50])
async def test_a_rush_of_purchases_shares_transactions(buy_ctx: Context, orders_in_rush: int) -> None:
    import asyncio

    sale = await make_sale(buy_ctx, quantity=orders_in_rush, limit=1)
    buyers = await make_buyers(buy_ctx, orders_in_rush)
    await buying.buy(buy_ctx, buyers[0][0], sale.item_id, 1, "warm-up")
    committer = buy_ctx.stock._committer if buy_ctx.stock.name == "sql" else buy_ctx.stock.committer  # type: ignore[union-attr]
    before = committer.batches
    await asyncio.gather(*[buying.buy(buy_ctx, b, sale.item_id, 1, "k") for b, _ in buyers[1:]])
    transactions = committer.batches - before
    assert transactions < (orders_in_rush - 1) / 2, f"{orders_in_rush - 1} orders took {transactions} commits"
