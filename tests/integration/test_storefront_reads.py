"""The reads the storefront makes besides the pages' events: a buyer's order statuses and payment
stages (services/orders/storefront), and an item's product facts and event (services/sales/queries)."""

from __future__ import annotations

import pytest

from flashport.domain.errors import NotFound
from flashport.domain.orders import OrderStatus
from flashport.services.context import Context
from flashport.services.orders import storefront
from flashport.services.sales import buying, queries
from tests.sale_builder import make_buyers, make_sale


async def test_a_buyer_follows_only_their_own_orders_and_none_has_started_paying(ctx: Context) -> None:
    sale = await make_sale(ctx, quantity=10, limit=5)
    [(alice, _), (bob, _)] = await make_buyers(ctx, 2)
    for key in ("first", "second"):
        await buying.buy(ctx, alice, sale.item_id, 1, key)
    await buying.buy(ctx, bob, sale.item_id, 1, "only")

    hers = await storefront.order_statuses(ctx, alice)
    [his] = await storefront.order_statuses(ctx, bob)
    assert [order.status for order in hers] == [OrderStatus.PENDING_PAYMENT] * 2
    assert his.order_no not in {order.order_no for order in hers}
    [newest] = await storefront.order_statuses(ctx, alice, limit=1)
    assert newest == hers[0]

    asked = [order.order_no for order in hers] + [his.order_no]
    stages = await storefront.payment_stages(ctx, alice, asked)
    assert stages == {order.order_no: storefront.NOT_STARTED for order in hers}  # Bob's is left out
    assert await storefront.payment_stages(ctx, alice, []) == {}


async def test_an_items_facts_and_event_are_read_by_item_id(ctx: Context) -> None:
    sale = await make_sale(ctx, overseas=True)
    assert await queries.event_of_item(ctx, sale.item_id) == sale.event_id
    facts = await queries.item_facts(ctx, [sale.item_id, sale.item_id + 1000])
    assert list(facts) == [sale.item_id]  # unknown ids are left out
    assert facts[sale.item_id].origin == "NZ"
    assert await queries.item_facts(ctx, []) == {}
    with pytest.raises(NotFound):
        await queries.event_of_item(ctx, sale.item_id + 1000)
