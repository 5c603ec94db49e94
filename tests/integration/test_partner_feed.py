"""The partner feed: the relay moves committed outbox records to each entitled partner once, in commit
order, with per-subject sequence numbers; each partner pulls only its own events, from any point."""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx
import pytest
import sqlalchemy as sa

from flashport.adapters.db.partners_schema import partner_events
from flashport.adapters.db.schema import stock
from flashport.services import outbox
from flashport.services.context import Context
from flashport.services.partners import relay
from tests.factories import make_warehouse
from tests.partner_world import Member, World, make_world, place_order, relay_until_settled


def key_auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def _whole_feed(client: httpx.AsyncClient, member: Member, limit: int = 1000) -> list[dict]:  # type: ignore[type-arg]
    items: list[dict] = []  # type: ignore[type-arg]
    cursor = None
    while True:
        params: dict[str, str | int] = {"limit": limit}
        if cursor:
            params["after"] = cursor
        page = await client.get("/api/v1/partner/feed", params=params, headers=key_auth(member.key))
        assert page.status_code == 200, page.text
        body = page.json()
        items += body["items"]
        cursor = body["next_cursor"]
        if not body["has_more"]:
            return items


async def _two_orders(ctx: Context) -> tuple[World, str, str]:
    world = await make_world(ctx)
    first = await place_order(ctx, world, goods=0, carrier=1, payer=0, refund=True)
    second = await place_order(ctx, world, goods=1, carrier=0, payer=1)
    warehouse_id = await make_warehouse(ctx)
    async with ctx.transaction() as tx:
        await tx.conn.execute(
            stock.insert().values(
                sku_id=world.sku_ids[0], warehouse_id=warehouse_id, on_hand=5, updated_at=tx.now
            )
        )
        await tx.emit(
            "stock.changed",
            f"stock:{world.sku_ids[0]}:{warehouse_id}",
            {"sku_id": world.sku_ids[0], "on_hand": 5},
        )
    return world, first, second


async def test_no_partner_sees_another_partners_events_in_the_feed(
    client: httpx.AsyncClient, ctx: Context
) -> None:
    world, first, second = await _two_orders(ctx)
    await relay_until_settled(ctx)
    # (partner, order it is entitled to, the types it must get for it)
    expected = {
        "supplier0": (
            world.suppliers[0],
            first,
            {
                "order.created",
                "order.checked_out",
                "order.paid",
                "order.shipped",
                "payment.succeeded",
                "refund.succeeded",
                "declaration.released",
                "stock.changed",
            },
        ),
        "supplier1": (
            world.suppliers[1],
            second,
            {
                "order.created",
                "order.checked_out",
                "order.paid",
                "order.shipped",
                "payment.succeeded",
                "declaration.released",
            },
        ),
        "carrier1": (
            world.carriers[1],
            first,
            {"declaration.declared", "declaration.released", "order.shipped"},
        ),
        "carrier0": (
            world.carriers[0],
            second,
            {"declaration.declared", "declaration.released", "order.shipped"},
        ),
        "payer0": (world.payers[0], first, {"payment.succeeded", "refund.succeeded"}),
        "payer1": (world.payers[1], second, {"payment.succeeded"}),
    }
    for name, (member, order_no, types) in expected.items():
        items = await _whole_feed(client, member)
        assert {e["type"] for e in items} == types, name
        order_subjects = {e["subject"] for e in items if e["subject"].startswith("order:")}
        assert order_subjects == {f"order:{order_no}"}, name
        assert all(
            e["link"] == f"/api/v1/partner/orders/{order_no}"
            for e in items
            if e["subject"].startswith("order:")
        )
        # Thin payloads: references and states only, never the buyer's person.
        assert "张三" not in str(items) and "order_id" not in str(items), name
        # Each linked resource answers for its owner, and only for it.
        own = await client.get(f"/api/v1/partner/orders/{order_no}", headers=key_auth(member.key))
        assert own.status_code == 200, name


async def test_each_event_carries_its_subject_sequence_and_the_feed_follows_commit_order(
    client: httpx.AsyncClient, ctx: Context
) -> None:
    world, first, _ = await _two_orders(ctx)
    await relay_until_settled(ctx)
    items = await _whole_feed(client, world.suppliers[0])
    of_order = [e for e in items if e["subject"] == f"order:{first}"]
    assert [e["subject_seq"] for e in of_order] == list(range(1, len(of_order) + 1))
    assert [e["type"] for e in of_order] == [
        "order.created",
        "order.checked_out",
        "payment.succeeded",
        "order.paid",
        "declaration.released",
        "order.shipped",
        "refund.succeeded",
    ]
    ids = [int(e["id"].removeprefix("evt_")) for e in items]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)


async def test_the_feed_pages_with_a_cursor_and_replays_from_any_point(
    client: httpx.AsyncClient, ctx: Context
) -> None:
    world, _, _ = await _two_orders(ctx)
    await relay_until_settled(ctx)
    member = world.suppliers[0]
    everything = await _whole_feed(client, member)
    paged = await _whole_feed(client, member, limit=3)
    assert [e["id"] for e in paged] == [e["id"] for e in everything]
    first = (await client.get("/api/v1/partner/feed?limit=2", headers=key_auth(member.key))).json()
    again = (
        await client.get(f"/api/v1/partner/feed?after={first['next_cursor']}", headers=key_auth(member.key))
    ).json()
    assert [e["id"] for e in again["items"]] == [e["id"] for e in everything[2:]]
    empty = (
        await client.get(f"/api/v1/partner/feed?after={again['next_cursor']}", headers=key_auth(member.key))
    ).json()
    assert empty == {"items": [], "next_cursor": again["next_cursor"], "has_more": False}
    since = (
        await client.get(
            "/api/v1/partner/feed",
            params={"since": everything[0]["occurred_at"]},
            headers=key_auth(member.key),
        )
    ).json()
    assert since["items"][0]["id"] == everything[0]["id"]
    only = (await client.get("/api/v1/partner/feed?type=order.paid", headers=key_auth(member.key))).json()
    assert [e["type"] for e in only["items"]] == ["order.paid"]
    bad = await client.get("/api/v1/partner/feed?after=nonsense", headers=key_auth(member.key))
    assert (bad.status_code, bad.json()["code"]) == (422, "invalid_cursor")


async def test_relaying_again_or_from_two_workers_at_once_appends_each_event_once(ctx: Context) -> None:
    await _two_orders(ctx)
    await asyncio.gather(relay.relay_all(ctx), relay.relay_all(ctx), relay.relay_all(ctx))
    await relay_until_settled(ctx)
    await relay.relay_all(ctx)
    async with ctx.read() as conn:
        rows = (
            await conn.execute(
                sa.select(
                    partner_events.c.partner_id,
                    partner_events.c.outbox_id,
                    partner_events.c.subject,
                    partner_events.c.subject_seq,
                )
            )
        ).all()
    assert rows and max(Counter((r.partner_id, r.outbox_id) for r in rows).values()) == 1
    by_subject: dict[tuple[int, str], list[int]] = {}
    for r in rows:
        by_subject.setdefault((r.partner_id, r.subject), []).append(r.subject_seq)
    assert all(sorted(seqs) == list(range(1, len(seqs) + 1)) for seqs in by_subject.values())


async def test_the_relay_never_skips_a_record_that_commits_after_a_later_one(
    ctx: Context, backend: str
) -> None:
    if backend == "sqlite":
        pytest.skip("SQLite has one writer at a time: row ids already follow commit order")
    world = await make_world(ctx)
    order_no = await place_order(ctx, world, goods=0, carrier=0, payer=0)
    await relay_until_settled(ctx)
    async with ctx.engine.connect() as slow:
        slow_tx = await slow.begin()
        await outbox.append(slow, "order.cancelled", f"order:{order_no}", {"order_no": order_no}, ctx.clock())
        async with ctx.transaction() as fast:
            await fast.emit("refund.succeeded", f"order:{order_no}", {"amount": "1.00"})
        await relay.relay_all(ctx)  # the fast one waits behind the slow one
        async with ctx.read() as conn:
            seen = await conn.scalar(
                sa.select(sa.func.count())
                .select_from(partner_events)
                .where(partner_events.c.type.in_(["order.cancelled", "refund.succeeded"]))
            )
        assert seen == 0
        await slow_tx.commit()
    await relay_until_settled(ctx)
    async with ctx.read() as conn:
        types = (
            (
                await conn.execute(
                    sa.select(partner_events.c.type)
                    .where(partner_events.c.partner_id == world.suppliers[0].partner_id)
                    .order_by(partner_events.c.id)
                )
            )
            .scalars()
            .all()
        )
    assert types[-2:] == ["order.cancelled", "refund.succeeded"]
