"""Events and sale items over HTTP, on SQLite and PostgreSQL: lifecycle, stock allotment, the public
listing, roles, and a race for the same stock row."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from flashport.adapters.db.schema import orders, outbox, sale_items, skus, stock
from flashport.domain.accounts import Role
from flashport.services.context import Context
from tests.factories import auth, make_product_with_sku, make_supplier, make_user, make_warehouse, set_stock


class Clock:
    """A clock the test moves by hand; the API reads it through ctx.clock."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, by: timedelta) -> None:
        self.now += by


@dataclass
class Shop:
    op: dict[str, Any]  # operator's auth header
    sku: int
    warehouse: int


@pytest.fixture
def clock(ctx: Context) -> Clock:
    frozen = Clock(datetime.now(UTC).replace(microsecond=0))
    ctx.clock = frozen
    return frozen


@pytest.fixture
async def shop(ctx: Context, clock: Clock) -> Shop:
    """An operator, and an SKU priced 100.00 with 100 free units in a bonded warehouse."""
    _, token = await make_user(ctx, Role.OPERATOR)
    warehouse = await make_warehouse(ctx)
    sku = await make_product_with_sku(ctx, original_price_fen=10_000)
    await set_stock(ctx, sku, warehouse, on_hand=100)
    return Shop(auth(token), sku, warehouse)


def _event_body(clock: Clock, start_in: timedelta = timedelta(days=1), days: float = 7, **extra: Any) -> Any:
    starts = clock.now + start_in
    return {
        "title": "Alpine dairy week",
        "channel": "global-flash-sale",
        "banner_url": "https://cdn.example.com/dairy.jpg",
        "starts_at": starts.isoformat(),
        "ends_at": (starts + timedelta(days=days)).isoformat(),
        **extra,
    }


async def _new_event(client: httpx.AsyncClient, shop: Shop, clock: Clock, **kw: Any) -> dict[str, Any]:
    made = await client.post("/api/v1/events", headers=shop.op, json=_event_body(clock, **kw))
    assert made.status_code == 201, made.text
    event: dict[str, Any] = made.json()
    return event


async def _add_item(
    client: httpx.AsyncClient, shop: Shop, event_id: int, quantity: int = 10, **extra: Any
) -> httpx.Response:
    body = {
        "sku_id": shop.sku,
        "warehouse_id": shop.warehouse,
        "sale_price": "30.00",
        "quantity": quantity,
        "per_buyer_limit": 2,
        **extra,
    }
    return await client.post(f"/api/v1/events/{event_id}/items", headers=shop.op, json=body)


async def _scheduled_event(
    client: httpx.AsyncClient, shop: Shop, clock: Clock, quantity: int = 10, **kw: Any
) -> dict[str, Any]:
    event = await _new_event(client, shop, clock, **kw)
    assert (await _add_item(client, shop, event["id"], quantity)).status_code == 201
    scheduled = await client.post(f"/api/v1/events/{event['id']}/schedule", headers=shop.op)
    assert scheduled.status_code == 200, scheduled.text
    result: dict[str, Any] = scheduled.json()
    return result


async def _allotted(ctx: Context, shop: Shop) -> int:
    async with ctx.read() as conn:
        value = await conn.scalar(
            sa.select(stock.c.allotted).where(
                stock.c.sku_id == shop.sku, stock.c.warehouse_id == shop.warehouse
            )
        )
    return int(value)


async def _outbox_types(ctx: Context) -> list[str]:
    async with ctx.read() as conn:
        return list(await conn.scalars(sa.select(outbox.c.type).order_by(outbox.c.id)))


async def _set_sold(ctx: Context, item_id: int, sold: int) -> None:
    """As if ``sold`` units had been bought and paid: one paid order, and the SQL engine's counter."""
    buyer, _ = await make_user(ctx, Role.BUYER)
    async with ctx.transaction() as tx:
        item = (await tx.conn.execute(sa.select(sale_items).where(sale_items.c.id == item_id))).one()
        await tx.conn.execute(sale_items.update().where(sale_items.c.id == item_id).values(sold=sold))
        await tx.conn.execute(
            orders.insert().values(
                id=str(uuid.uuid4()),
                order_no=f"FPTEST{uuid.uuid4().hex[:10]}",
                buyer_id=buyer,
                event_id=item.event_id,
                sale_item_id=item_id,
                quantity=sold,
                status="paid",
                fulfilment="bonded",
                goods_value_fen=item.sale_price_fen * sold,
                total_fen=item.sale_price_fen * sold,
                idempotency_key="test",
                created_at=tx.now,
                payment_deadline=tx.now,
                paid_at=tx.now,
            )
        )


async def test_operator_drafts_fills_schedules_and_cancels_an_event(
    client: httpx.AsyncClient, ctx: Context, shop: Shop, clock: Clock
) -> None:
    event = await _new_event(client, shop, clock)
    assert (event["status"], event["state"], event["item_count"]) == ("draft", "draft", 0)
    assert event["max_discount_percent"] is None

    item = (await _add_item(client, shop, event["id"], quantity=40)).json()
    assert item["sale_price"] == "30.00"
    assert item["original_price"] == "100.00"
    assert (item["discount_percent"], item["remaining"], item["fulfilment"]) == (70, 40, "bonded")
    assert await _allotted(ctx, shop) == 40

    scheduled = await client.post(f"/api/v1/events/{event['id']}/schedule", headers=shop.op)
    assert scheduled.json()["status"] == "scheduled"
    assert scheduled.json()["max_discount_percent"] == 70

    cancelled = await client.post(f"/api/v1/events/{event['id']}/cancel", headers=shop.op)
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    assert await _allotted(ctx, shop) == 0
    again = await client.post(f"/api/v1/events/{event['id']}/cancel", headers=shop.op)
    assert again.status_code == 409
    assert await _outbox_types(ctx) == [
        "event.created",
        "sale_item.added",
        "event.scheduled",
        "event.cancelled",
    ]


async def test_an_event_outside_the_length_policy_or_with_naive_times_is_422(
    client: httpx.AsyncClient, ctx: Context, shop: Shop, clock: Clock
) -> None:
    too_long = await client.post("/api/v1/events", headers=shop.op, json=_event_body(clock, days=10.01))
    assert too_long.status_code == 422
    assert too_long.json()["code"] == "event_length_out_of_policy"
    too_short = await client.post("/api/v1/events", headers=shop.op, json=_event_body(clock, days=4))
    assert too_short.json()["code"] == "event_length_out_of_policy"
    naive = _event_body(clock) | {"starts_at": "2031-01-01T00:00:00", "ends_at": "2031-01-08T00:00:00"}
    refused = await client.post("/api/v1/events", headers=shop.op, json=naive)
    assert refused.status_code == 422
    assert refused.json()["code"] == "naive_datetime"
    assert (await client.post("/api/v1/events", headers=shop.op, json=_event_body(clock, days=10))).is_success
    assert await _outbox_types(ctx) == ["event.created"]


async def test_an_event_is_updated_until_it_starts(
    client: httpx.AsyncClient, ctx: Context, shop: Shop, clock: Clock
) -> None:
    event = await _scheduled_event(client, shop, clock)
    url = f"/api/v1/events/{event['id']}"
    new_end = (clock.now + timedelta(days=9)).isoformat()
    changed = await client.patch(url, headers=shop.op, json={"title": "Dairy days", "ends_at": new_end})
    assert changed.status_code == 200, changed.text
    assert changed.json()["title"] == "Dairy days"
    assert changed.json()["banner_url"] == "https://cdn.example.com/dairy.jpg"
    cleared = await client.patch(url, headers=shop.op, json={"banner_url": None})
    assert cleared.json()["banner_url"] is None

    too_long = await client.patch(
        url, headers=shop.op, json={"ends_at": (clock.now + timedelta(days=12)).isoformat()}
    )
    assert too_long.json()["code"] == "event_length_out_of_policy"
    into_past = await client.patch(url, headers=shop.op, json={"starts_at": clock.now.isoformat()})
    assert into_past.status_code == 409
    assert into_past.json()["code"] == "start_in_past"

    clock.advance(timedelta(days=1))
    frozen = await client.patch(url, headers=shop.op, json={"title": "Too late"})
    assert frozen.status_code == 409
    assert frozen.json()["code"] == "event_not_editable"
    types = await _outbox_types(ctx)
    assert types.count("event.updated") == 2


async def test_scheduling_needs_an_item_and_a_future_start(
    client: httpx.AsyncClient, shop: Shop, clock: Clock
) -> None:
    event = await _new_event(client, shop, clock, start_in=timedelta(hours=1))
    empty = await client.post(f"/api/v1/events/{event['id']}/schedule", headers=shop.op)
    assert (empty.status_code, empty.json()["code"]) == (409, "event_has_no_items")
    await _add_item(client, shop, event["id"])
    clock.advance(timedelta(hours=1))
    late = await client.post(f"/api/v1/events/{event['id']}/schedule", headers=shop.op)
    assert (late.status_code, late.json()["code"]) == (409, "start_in_past")


async def test_a_price_out_of_band_is_422_on_create_and_on_change(
    client: httpx.AsyncClient, ctx: Context, shop: Shop, clock: Clock
) -> None:
    event = await _new_event(client, shop, clock)
    before = await _outbox_types(ctx)
    for price in ("9.99", "50.01"):
        refused = await _add_item(client, shop, event["id"], sale_price=price)
        assert refused.status_code == 422
        assert refused.json()["code"] == "price_out_of_band"
    assert await _allotted(ctx, shop) == 0
    assert await _outbox_types(ctx) == before

    item = (await _add_item(client, shop, event["id"], sale_price="10.00")).json()
    url = f"/api/v1/events/{event['id']}/items/{item['id']}"
    changed = await client.patch(url, headers=shop.op, json={"sale_price": "50.00"})
    assert changed.json()["sale_price"] == "50.00"
    refused = await client.patch(url, headers=shop.op, json={"sale_price": "50.01", "quantity": 20})
    assert (refused.status_code, refused.json()["code"]) == (422, "price_out_of_band")
    assert await _allotted(ctx, shop) == 10  # the quantity in the refused request did not move stock
    fraction = await client.patch(url, headers=shop.op, json={"sale_price": "20.001"})
    assert fraction.json()["code"] == "invalid_money"


async def test_allotting_more_than_the_free_stock_is_409_and_changes_nothing(
    client: httpx.AsyncClient, ctx: Context, shop: Shop, clock: Clock
) -> None:
    first = await _new_event(client, shop, clock)
    second = await _new_event(client, shop, clock)
    assert (await _add_item(client, shop, first["id"], quantity=60)).status_code == 201
    before = await _outbox_types(ctx)

    refused = await _add_item(client, shop, second["id"], quantity=41)
    assert refused.status_code == 409
    assert refused.json()["code"] == "insufficient_stock"
    assert "only 40 units" in refused.json()["message"]
    assert await _allotted(ctx, shop) == 60
    assert await _outbox_types(ctx) == before
    assert (await _add_item(client, shop, second["id"], quantity=40)).status_code == 201
    assert await _allotted(ctx, shop) == 100


async def test_changing_the_quantity_moves_the_allotment_by_the_difference(
    client: httpx.AsyncClient, ctx: Context, shop: Shop, clock: Clock
) -> None:
    event = await _new_event(client, shop, clock)
    item = (await _add_item(client, shop, event["id"], quantity=50)).json()
    url = f"/api/v1/events/{event['id']}/items/{item['id']}"

    assert (await client.patch(url, headers=shop.op, json={"quantity": 80})).json()["remaining"] == 80
    assert await _allotted(ctx, shop) == 80
    assert (await client.patch(url, headers=shop.op, json={"quantity": 30})).status_code == 200
    assert await _allotted(ctx, shop) == 30
    over = await client.patch(url, headers=shop.op, json={"quantity": 101})
    assert (over.status_code, over.json()["code"]) == (409, "insufficient_stock")
    assert await _allotted(ctx, shop) == 30
    limit = await client.patch(url, headers=shop.op, json={"per_buyer_limit": 31})
    assert (limit.status_code, limit.json()["code"]) == (422, "invalid_per_buyer_limit")
    types = await _outbox_types(ctx)
    assert types.count("sale_item.changed") == 2


async def test_removing_an_item_returns_its_allotment(
    client: httpx.AsyncClient, ctx: Context, shop: Shop, clock: Clock
) -> None:
    event = await _new_event(client, shop, clock)
    item = (await _add_item(client, shop, event["id"], quantity=25)).json()
    removed = await client.delete(f"/api/v1/events/{event['id']}/items/{item['id']}", headers=shop.op)
    assert removed.status_code == 204
    assert await _allotted(ctx, shop) == 0
    detail = await client.get(f"/api/v1/admin/events/{event['id']}", headers=shop.op)
    assert detail.json()["items"] == []
    gone = await client.delete(f"/api/v1/events/{event['id']}/items/{item['id']}", headers=shop.op)
    assert (gone.status_code, gone.json()["code"]) == (404, "sale_item_not_found")
    assert (await _outbox_types(ctx))[-1] == "sale_item.removed"


async def test_cancelling_a_live_event_returns_only_unsold_units(
    client: httpx.AsyncClient, ctx: Context, shop: Shop, clock: Clock
) -> None:
    event = await _scheduled_event(client, shop, clock, quantity=10)
    clock.advance(timedelta(days=2))
    admin = (await client.get(f"/api/v1/admin/events/{event['id']}", headers=shop.op)).json()
    assert admin["status"] == "live"
    await _set_sold(ctx, admin["items"][0]["id"], 4)
    assert (await client.post(f"/api/v1/events/{event['id']}/cancel", headers=shop.op)).status_code == 200
    assert await _allotted(ctx, shop) == 4


async def test_the_same_sku_twice_in_one_event_is_409(
    client: httpx.AsyncClient, shop: Shop, clock: Clock
) -> None:
    event = await _new_event(client, shop, clock)
    assert (await _add_item(client, shop, event["id"])).status_code == 201
    twice = await _add_item(client, shop, event["id"])
    assert (twice.status_code, twice.json()["code"]) == (409, "duplicate_sku")


async def test_unknown_ids_are_404_with_their_own_codes(
    client: httpx.AsyncClient, ctx: Context, shop: Shop, clock: Clock
) -> None:
    event = await _new_event(client, shop, clock)
    other_warehouse = await make_warehouse(ctx, kind="overseas")
    cases = {
        "event_not_found": await _add_item(client, shop, 999_999),
        "sku_not_found": await _add_item(client, shop, event["id"], sku_id=999_999),
        "warehouse_not_found": await _add_item(client, shop, event["id"], warehouse_id=999_999),
        "stock_not_found": await _add_item(client, shop, event["id"], warehouse_id=other_warehouse),
        "sale_item_not_found": await client.patch(
            f"/api/v1/events/{event['id']}/items/999999", headers=shop.op, json={"quantity": 3}
        ),
    }
    for code, response in cases.items():
        assert (response.status_code, response.json()["code"]) == (404, code)
    assert await _outbox_types(ctx) == ["event.created"]
    for url in ("/api/v1/events/999999", "/api/v1/events/999999/items", "/api/v1/sale-items/999999"):
        assert (await client.get(url)).status_code == 404


async def test_items_are_frozen_once_the_sale_starts(
    client: httpx.AsyncClient, ctx: Context, shop: Shop, clock: Clock
) -> None:
    event = await _scheduled_event(client, shop, clock)
    item_id = event["items"][0]["id"]
    clock.advance(timedelta(days=1))
    url = f"/api/v1/events/{event['id']}/items"
    attempts = [
        await _add_item(client, shop, event["id"]),
        await client.patch(f"{url}/{item_id}", headers=shop.op, json={"quantity": 5}),
        await client.delete(f"{url}/{item_id}", headers=shop.op),
    ]
    assert [(r.status_code, r.json()["code"]) for r in attempts] == [(409, "event_not_editable")] * 3
    assert await _allotted(ctx, shop) == 10


async def test_public_listing_shows_live_and_upcoming_events_only(
    client: httpx.AsyncClient, ctx: Context, shop: Shop, clock: Clock
) -> None:
    # Seen at T+5d1h: started T+1m and lasting 5 days -> ended; T+1d -> live; T+6d -> upcoming.
    ended = await _scheduled_event(client, shop, clock, start_in=timedelta(minutes=1), days=5)
    live = await _scheduled_event(client, shop, clock, start_in=timedelta(days=1))
    upcoming = await _scheduled_event(client, shop, clock, start_in=timedelta(days=6), channel="overseas")
    sold_out = await _scheduled_event(client, shop, clock, start_in=timedelta(hours=2))
    draft = await _new_event(client, shop, clock)
    cancelled = await _scheduled_event(client, shop, clock)
    await client.post(f"/api/v1/events/{cancelled['id']}/cancel", headers=shop.op)
    await _set_sold(ctx, sold_out["items"][0]["id"], 10)
    clock.advance(timedelta(days=5, hours=1))

    listed = (await client.get("/api/v1/events")).json()
    assert [(e["id"], e["status"]) for e in listed] == [(live["id"], "live"), (upcoming["id"], "scheduled")]
    assert listed[0]["item_count"] == 1
    assert listed[0]["max_discount_percent"] == 70
    assert [e["id"] for e in (await client.get("/api/v1/events?status=live")).json()] == [live["id"]]
    assert [e["id"] for e in (await client.get("/api/v1/events?status=upcoming")).json()] == [upcoming["id"]]
    assert [e["id"] for e in (await client.get("/api/v1/events?channel=overseas")).json()] == [upcoming["id"]]
    assert (await client.get("/api/v1/events?status=ended")).status_code == 422

    for hidden in (draft, cancelled):
        assert (await client.get(f"/api/v1/events/{hidden['id']}")).status_code == 404
    assert (await client.get(f"/api/v1/events/{ended['id']}")).json()["status"] == "ended"
    assert (await client.get(f"/api/v1/events/{sold_out['id']}")).json()["status"] == "ended"

    items = (await client.get(f"/api/v1/events/{live['id']}/items")).json()
    assert len(items) == 1
    assert items[0]["remaining"] == 10
    assert (items[0]["sold_out"], items[0]["brand_country"], items[0]["images"]) == (
        False,
        "CH",
        ["https://img.example.com/milk-1.jpg"],
    )
    assert "reserved" not in items[0]
    detail = (await client.get(f"/api/v1/sale-items/{items[0]['id']}")).json()
    assert (detail["event_status"], detail["sale_price"]) == ("live", "30.00")
    draft_item = (await _add_item(client, shop, draft["id"], quantity=2)).json()
    assert (await client.get(f"/api/v1/sale-items/{draft_item['id']}")).status_code == 404

    everything = (await client.get("/api/v1/admin/events", headers=shop.op)).json()
    assert len(everything) == 6
    ended_ids = [
        e["id"] for e in (await client.get("/api/v1/admin/events?status=ended", headers=shop.op)).json()
    ]
    assert ended_ids == [ended["id"], sold_out["id"]]


async def test_operator_endpoints_refuse_buyers_suppliers_and_anonymous_callers(
    client: httpx.AsyncClient, ctx: Context, shop: Shop, clock: Clock
) -> None:
    event = await _new_event(client, shop, clock)
    item = (await _add_item(client, shop, event["id"])).json()
    _, buyer = await make_user(ctx, Role.BUYER)
    _, supplier = await make_user(ctx, Role.SUPPLIER, await make_supplier(ctx))
    calls = [
        ("POST", "/api/v1/events", _event_body(clock)),
        ("PATCH", f"/api/v1/events/{event['id']}", {"title": "x"}),
        ("POST", f"/api/v1/events/{event['id']}/schedule", None),
        ("POST", f"/api/v1/events/{event['id']}/cancel", None),
        ("POST", f"/api/v1/events/{event['id']}/items", {"sku_id": 1}),
        ("PATCH", f"/api/v1/events/{event['id']}/items/{item['id']}", {"quantity": 1}),
        ("DELETE", f"/api/v1/events/{event['id']}/items/{item['id']}", None),
        ("GET", "/api/v1/admin/events", None),
        ("GET", f"/api/v1/admin/events/{event['id']}", None),
    ]
    for method, url, body in calls:
        anonymous = await client.request(method, url, json=body)
        assert anonymous.status_code == 401, (method, url)
        for token in (buyer, supplier):
            refused = await client.request(method, url, json=body, headers=auth(token))
            assert refused.status_code == 403, (method, url)
    assert await _outbox_types(ctx) == ["event.created", "sale_item.added"]


async def test_concurrent_allotments_from_one_stock_row_never_exceed_it(
    client: httpx.AsyncClient, ctx: Context, shop: Shop, clock: Clock
) -> None:
    events = [await _new_event(client, shop, clock) for _ in range(10)]
    answers = await asyncio.gather(*(_add_item(client, shop, e["id"], quantity=30) for e in events))
    codes = sorted(answer.status_code for answer in answers)
    assert codes == [201] * 3 + [409] * 7, [a.text for a in answers if a.status_code not in (201, 409)]
    assert all(a.json()["code"] == "insufficient_stock" for a in answers if a.status_code == 409)
    assert await _allotted(ctx, shop) == 90
    async with ctx.read() as conn:
        assert await conn.scalar(sa.select(sa.func.sum(sale_items.c.quantity))) == 90
    assert (await _outbox_types(ctx)).count("sale_item.added") == 3


async def test_every_event_operation_documents_its_roles_and_errors(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    operations = [op for ops in spec["paths"].values() for op in ops.values() if op["tags"] == ["events"]]
    assert len(operations) == 13
    for operation in operations:
        assert operation["x-roles"], operation["summary"]
        assert "404" in operation["responses"] or "422" in operation["responses"], operation["summary"]
        if operation["x-roles"] == ["operator"]:
            assert {"401", "403"} <= set(operation["responses"])


async def test_goods_without_a_bonded_record_number_are_not_put_on_sale_from_a_bonded_warehouse(
    client: httpx.AsyncClient, ctx: Context, shop: Shop, clock: Clock
) -> None:
    event = await _new_event(client, shop, clock)
    async with ctx.transaction() as tx:
        await tx.conn.execute(skus.update().where(skus.c.id == shop.sku).values(item_record_no=None))
    refused = await _add_item(client, shop, event["id"])
    assert refused.status_code == 422 and refused.json()["code"] == "item_record_no_missing", refused.text
    abroad = await make_warehouse(ctx, "overseas")  # 9610 goods have no bonded account book
    await set_stock(ctx, shop.sku, abroad, on_hand=20)
    assert (await _add_item(client, shop, event["id"], warehouse_id=abroad)).status_code == 201
