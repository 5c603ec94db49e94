"""What the record bench reads of the database for the capacity model: PostgreSQL's write-ahead log
position, whose difference across a sale is the log its orders wrote (none on SQLite)."""

from __future__ import annotations

from flashport.bench import report
from flashport.services.context import Context
from flashport.services.sales import buying
from tests.sale_builder import make_buyers, make_sale


async def test_the_wal_position_moves_by_what_a_sales_orders_write(buy_ctx: Context) -> None:
    sale = await make_sale(buy_ctx, quantity=20)
    buyers = await make_buyers(buy_ctx, 20)
    before = await report.wal_position(buy_ctx)
    for n, (buyer, _) in enumerate(buyers):
        await buying.buy(buy_ctx, buyer, sale.item_id, 1, f"wal-{n}")
    after = await report.wal_position(buy_ctx)
    if buy_ctx.settings.is_sqlite:
        assert before is None and after is None
    else:
        assert before is not None and after is not None
        assert after - before >= 20 * 200  # each order's row and its outbox record, at the least
