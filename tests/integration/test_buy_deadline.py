"""The buy path's deadline (``FLASHPORT_BUY_DEADLINE_SECONDS``): a purchase the Redis engine has not
decided in time is answered 503 ``purchase_pending`` with ``Retry-After`` instead of leaving its buyer
waiting, and it goes on without its caller, so the retry with the same key gets that one order; the SQL
engine, whose placement cannot be left half-way, is waited for."""

from __future__ import annotations

import httpx
import sqlalchemy as sa

from flashport.adapters.db.schema import orders
from flashport.app import create_app
from flashport.services.context import Context
from tests.factories import auth
from tests.sale_builder import make_buyers, make_sale
from tests.servers import serving
from tests.waiting import eventually

# Far shorter than a reservation and a group commit take: the deadline always strikes first.
TOO_SHORT = 0.0001


async def test_a_purchase_undecided_by_its_deadline_is_answered_503_and_its_retry_gets_its_one_order(
    buy_ctx: Context,
) -> None:
    sale = await make_sale(buy_ctx, quantity=5)
    [(buyer_id, token)] = await make_buyers(buy_ctx, 1)
    normal = buy_ctx.settings
    buy_ctx.settings = normal.model_copy(update={"buy_deadline_seconds": TOO_SHORT})
    headers = auth(token) | {"Idempotency-Key": "deadline-1"}
    path = f"/api/v1/sale-items/{sale.item_id}/buy"
    async with (
        serving(create_app(ctx=buy_ctx, fast_lane=True)) as url,
        httpx.AsyncClient(base_url=url, trust_env=False) as client,
    ):
        first = await client.post(path, json={"quantity": 1}, headers=headers)
        buy_ctx.settings = normal

        async def answered() -> httpx.Response | None:
            retry = await client.post(path, json={"quantity": 1}, headers=headers)
            return retry if retry.status_code in (200, 201) else None

        retry = await eventually(answered, within=30, what="the retry answered with its order")
    if buy_ctx.stock.name == "redis":  # abandons_safely
        assert first.status_code == 503, first.text
        assert first.json()["code"] == "purchase_pending"
        assert first.headers["retry-after"] == "1"
    else:
        assert first.status_code == 201 and retry.json()["id"] == first.json()["id"]
    async with buy_ctx.read() as conn:
        made = (await conn.scalars(sa.select(orders.c.id).where(orders.c.buyer_id == buyer_id))).all()
    assert [str(o) for o in made] == [str(retry.json()["id"])]  # one order, the one the retry named
    counters = await buy_ctx.stock.read_counters(sale.item_id)
    assert counters is not None and counters.taken == 1 and dict(counters.per_buyer) == {buyer_id: 1}
