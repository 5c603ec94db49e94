"""Partners and their keys: operators register them, a key is shown once and stored hashed, rotates
with an overlap and is revoked at once; each kind of partner reads exactly its own slice of an order."""

from __future__ import annotations

from datetime import timedelta

import httpx
import sqlalchemy as sa

from flashport.adapters.db.partners_schema import partner_keys
from flashport.domain.accounts import Role
from flashport.services.context import Context
from tests.factories import auth, make_supplier, make_user
from tests.partner_world import make_world, place_order


def key_auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def test_an_operator_registers_a_partner_and_its_key_is_shown_once_and_stored_hashed(
    client: httpx.AsyncClient, ctx: Context
) -> None:
    _, operator = await make_user(ctx, Role.OPERATOR)
    supplier_id = await make_supplier(ctx)
    made = await client.post(
        "/api/v1/partners",
        json={"name": "Brand export desk", "kind": "supplier", "supplier_id": supplier_id},
        headers=auth(operator),
    )
    assert made.status_code == 201, made.text
    partner_id = made.json()["id"]
    issued = await client.post(
        f"/api/v1/partners/{partner_id}/keys", json={"label": "erp"}, headers=auth(operator)
    )
    assert issued.status_code == 201
    key = issued.json()["key"]
    assert key.startswith("fpk_")
    async with ctx.read() as conn:
        stored = (await conn.execute(sa.select(partner_keys))).one()
    assert key not in (stored.key_hash, stored.key_id) and len(stored.key_hash) == 64
    listed = (await client.get(f"/api/v1/partners/{partner_id}/keys", headers=auth(operator))).json()
    assert "key" not in listed[0] and listed[0]["label"] == "erp"
    me = await client.get("/api/v1/partner/me", headers={"X-Api-Key": key})
    assert (me.status_code, me.json()["id"], me.json()["kind"]) == (200, partner_id, "supplier")
    me = await client.get("/api/v1/partner/me", headers=key_auth(key))
    assert me.status_code == 200
    wrong = await client.get("/api/v1/partner/me", headers=key_auth(key[:-2] + "xx"))
    assert (wrong.status_code, wrong.json()["code"]) == (401, "invalid_api_key")


async def test_a_partners_link_must_fit_its_kind_and_names_are_unique(
    client: httpx.AsyncClient, ctx: Context
) -> None:
    _, operator = await make_user(ctx, Role.OPERATOR)
    no_code = await client.post(
        "/api/v1/partners", json={"name": "C", "kind": "carrier"}, headers=auth(operator)
    )
    assert (no_code.status_code, no_code.json()["code"]) == (422, "partner_link")
    both = await client.post(
        "/api/v1/partners",
        json={"name": "C", "kind": "carrier", "logistics_code": "SF", "pay_code": "alipay"},
        headers=auth(operator),
    )
    assert both.status_code == 422
    ok = await client.post(
        "/api/v1/partners",
        json={"name": "C", "kind": "carrier", "logistics_code": "SF"},
        headers=auth(operator),
    )
    assert ok.status_code == 201
    again = await client.post(
        "/api/v1/partners",
        json={"name": "C", "kind": "carrier", "logistics_code": "SF"},
        headers=auth(operator),
    )
    assert again.status_code == 409
    _, buyer = await make_user(ctx, Role.BUYER)
    assert (await client.get("/api/v1/partners", headers=auth(buyer))).status_code == 403


async def test_a_rotated_key_overlaps_then_stops_and_a_revoked_key_stops_at_once(
    client: httpx.AsyncClient, ctx: Context
) -> None:
    _, operator = await make_user(ctx, Role.OPERATOR)
    made = await client.post(
        "/api/v1/partners",
        json={"name": "Pay", "kind": "payment_company", "pay_code": "alipay"},
        headers=auth(operator),
    )
    pid = made.json()["id"]
    old = (await client.post(f"/api/v1/partners/{pid}/keys", json={}, headers=auth(operator))).json()
    rotated = await client.post(
        f"/api/v1/partners/{pid}/keys/{old['id']}/rotate",
        json={"overlap_seconds": 3600},
        headers=auth(operator),
    )
    assert rotated.status_code == 201
    new = rotated.json()
    assert (await client.get("/api/v1/partner/me", headers=key_auth(old["key"]))).status_code == 200
    assert (await client.get("/api/v1/partner/me", headers=key_auth(new["key"]))).status_code == 200
    start = ctx.clock()
    ctx.clock = lambda: start + timedelta(seconds=3601)
    assert (await client.get("/api/v1/partner/me", headers=key_auth(old["key"]))).status_code == 401
    assert (await client.get("/api/v1/partner/me", headers=key_auth(new["key"]))).status_code == 200
    revoked = await client.delete(f"/api/v1/partners/{pid}/keys/{new['id']}", headers=auth(operator))
    assert revoked.status_code == 204
    assert (await client.get("/api/v1/partner/me", headers=key_auth(new["key"]))).status_code == 401


async def test_a_disabled_partners_keys_stop_working(client: httpx.AsyncClient, ctx: Context) -> None:
    _, operator = await make_user(ctx, Role.OPERATOR)
    world = await make_world(ctx)
    carrier = world.carriers[0]
    assert (await client.get("/api/v1/partner/me", headers=key_auth(carrier.key))).status_code == 200
    await client.post(f"/api/v1/partners/{carrier.partner_id}/disable", headers=auth(operator))
    assert (await client.get("/api/v1/partner/me", headers=key_auth(carrier.key))).status_code == 401
    await client.post(f"/api/v1/partners/{carrier.partner_id}/enable", headers=auth(operator))
    assert (await client.get("/api/v1/partner/me", headers=key_auth(carrier.key))).status_code == 200


async def test_each_kind_of_partner_reads_its_own_slice_of_an_order_and_nothing_of_others(
    client: httpx.AsyncClient, ctx: Context
) -> None:
    world = await make_world(ctx)
    order_no = await place_order(ctx, world, goods=0, carrier=1, payer=0, refund=True)
    url = f"/api/v1/partner/orders/{order_no}"

    supplier = (await client.get(url, headers=key_auth(world.suppliers[0].key))).json()
    assert [line["sku_id"] for line in supplier["lines"]] == [world.sku_ids[0]]
    assert supplier["settlement_fen"] == 9900
    assert supplier["buyer"] == {"phone_masked": "138****5678", "city_code": "310100"}
    assert supplier["shipment"] is None and supplier["payments"] is None
    assert (
        "张三" not in str(supplier)
        and "世纪大道" not in str(supplier)
        and "3101" not in str(supplier["buyer"])[:5]
    )

    carrier = (await client.get(url, headers=key_auth(world.carriers[1].key))).json()
    assert carrier["shipment"]["logistics_no"] == f"W{order_no}"
    assert carrier["shipment"]["consignee"]["address"] == "上海市浦东新区世纪大道100号"
    assert carrier["lines"] is None and carrier["payments"] is None

    payer = (await client.get(url, headers=key_auth(world.payers[0].key))).json()
    assert [p["out_trade_no"] for p in payer["payments"]] == [f"T{order_no}"]
    assert [r["out_request_no"] for r in payer["refunds"]] == [f"R{order_no}"]
    assert payer["shipment"] is None and payer["lines"] is None

    for outsider in (world.suppliers[1], world.carriers[0], world.payers[1]):
        refused = await client.get(url, headers=key_auth(outsider.key))
        assert (refused.status_code, refused.json()["code"]) == (404, "order_not_found"), outsider.kind
    missing = await client.get(
        "/api/v1/partner/orders/FPNOSUCHORDER", headers=key_auth(world.carriers[1].key)
    )
    assert missing.status_code == 404


async def test_user_tokens_are_not_partner_keys(client: httpx.AsyncClient, ctx: Context) -> None:
    _, operator = await make_user(ctx, Role.OPERATOR)
    assert (await client.get("/api/v1/partner/me", headers=auth(operator))).status_code == 403
    assert (await client.get("/api/v1/partner/me")).status_code == 401
