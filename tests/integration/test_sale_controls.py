"""The operator console's controls over a running sale: pause and resume an item or an event, top up an
item, end an event early; each writes one outbox event and one audit entry, and repeats change nothing.
On both storage backends and both stock engines, through the services, the API and the console's forms."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
import sqlalchemy as sa

from flashport.adapters.db.schema import operator_audit, outbox, sale_items, stock
from flashport.app import create_app
from flashport.bootstrap import build_context, close_context
from flashport.domain.access import Duty, roles_for
from flashport.domain.accounts import Role
from flashport.domain.errors import Conflict, DomainError
from flashport.services.context import Context
from flashport.services.sales import buying, controls
from flashport.web import session as web_session
from tests.factories import auth, make_user
from tests.sale_builder import make_buyers, make_sale
from tests.waiting import eventually

CSRF = "console-csrf"


async def _refusal(ctx: Context, buyer: int, item_id: int, key: str) -> str | None:
    """The code a purchase is refused with, or None when it went through."""
    try:
        await buying.buy(ctx, buyer, item_id, 1, key)
    except DomainError as exc:
        return exc.code
    return None


async def _audit(ctx: Context) -> list[tuple[str, str]]:
    async with ctx.read() as conn:
        rows = await conn.execute(
            sa.select(operator_audit.c.action, operator_audit.c.subject).order_by(operator_audit.c.id)
        )
        return [tuple(row) for row in rows]  # type: ignore[misc]


async def _outbox_types(ctx: Context, subject: str) -> list[str]:
    async with ctx.read() as conn:
        query = sa.select(outbox.c.type).where(outbox.c.subject == subject).order_by(outbox.c.id)
        return [t for t in (await conn.scalars(query)).all() if t.split(".")[-1] != "created"]


async def test_a_paused_item_refuses_buyers_until_it_is_resumed(buy_ctx: Context) -> None:
    sale = await make_sale(buy_ctx, quantity=5, limit=1)
    buyers = await make_buyers(buy_ctx, 3)
    operator, _ = await make_user(buy_ctx, Role.OPERATOR)
    assert await _refusal(buy_ctx, buyers[0][0], sale.item_id, "a") is None
    paused = await controls.pause_item(buy_ctx, operator, sale.item_id)
    assert (paused.action, paused.subject, paused.changed) == (
        "sale_item.paused",
        f"item:{sale.item_id}",
        True,
    )
    assert (await controls.pause_item(buy_ctx, operator, sale.item_id)).changed is False  # a double click
    assert await _refusal(buy_ctx, buyers[1][0], sale.item_id, "b") == "sale_paused"
    assert await buy_ctx.stock.remaining([sale.item_id]) == {sale.item_id: 4}  # nothing was taken
    assert (await controls.resume_item(buy_ctx, operator, sale.item_id)).changed is True
    assert (await controls.resume_item(buy_ctx, operator, sale.item_id)).changed is False
    assert await _refusal(buy_ctx, buyers[1][0], sale.item_id, "b") is None
    subject = f"item:{sale.item_id}"
    assert await _audit(buy_ctx) == [("sale_item.paused", subject), ("sale_item.resumed", subject)]
    assert await _outbox_types(buy_ctx, f"event:{sale.event_id}") == ["sale_item.paused", "sale_item.resumed"]


async def test_a_pause_reaches_another_api_process_within_its_terms_lifetime(buy_ctx: Context) -> None:
    sale = await make_sale(buy_ctx, quantity=1000, limit=1)
    buyers = iter(await make_buyers(buy_ctx, 200))
    operator, _ = await make_user(buy_ctx, Role.OPERATOR)
    other = await build_context(buy_ctx.settings, listen_for_restock=False)  # a second API process
    try:
        assert await _refusal(other, next(buyers)[0], sale.item_id, "warm") is None  # its terms are cached
        await controls.pause_event(buy_ctx, operator, sale.event_id)

        async def refused_there() -> bool:
            return await _refusal(other, next(buyers)[0], sale.item_id, "try") == "sale_paused"

        await eventually(refused_there, what="the other process to see the pause")
        await controls.resume_event(buy_ctx, operator, sale.event_id)

        async def sells_there() -> bool:
            return await _refusal(other, next(buyers)[0], sale.item_id, "again") is None

        await eventually(sells_there, what="the other process to see the resume")
    finally:
        await close_context(other)


async def test_a_top_up_adds_free_stock_to_a_sold_out_item_and_a_shortfall_changes_nothing(
    buy_ctx: Context,
) -> None:
    sale = await make_sale(buy_ctx, quantity=2, limit=1)
    buyers = await make_buyers(buy_ctx, 4)
    operator, _ = await make_user(buy_ctx, Role.OPERATOR)
    for n in range(2):
        assert await _refusal(buy_ctx, buyers[n][0], sale.item_id, f"k{n}") is None
    assert await _refusal(buy_ctx, buyers[2][0], sale.item_id, "k2") == "sold_out"
    async with buy_ctx.transaction() as tx:  # three more units arrive at the warehouse
        sku_id = await tx.conn.scalar(sa.select(sale_items.c.sku_id).where(sale_items.c.id == sale.item_id))
        await tx.conn.execute(
            stock.update().where(stock.c.sku_id == sku_id).values(on_hand=stock.c.on_hand + 3)
        )
    with pytest.raises(Conflict) as refused:
        await controls.top_up_item(buy_ctx, operator, sale.item_id, 4)
    assert refused.value.code == "insufficient_stock"
    assert await _audit(buy_ctx) == []
    topped = await controls.top_up_item(buy_ctx, operator, sale.item_id, 3)
    assert topped.details == {"event_id": sale.event_id, "item_id": sale.item_id, "units": 3, "quantity": 5}
    assert await buy_ctx.stock.remaining([sale.item_id]) == {sale.item_id: 3}
    buy_ctx.buy_path.board.clear(sale.item_id)  # what the restock message does in every process
    assert await _refusal(buy_ctx, buyers[2][0], sale.item_id, "k2") is None
    async with buy_ctx.read() as conn:
        allotted = await conn.scalar(sa.select(stock.c.allotted).where(stock.c.sku_id == sku_id))
    assert allotted == 5
    assert await _audit(buy_ctx) == [("sale_item.topped_up", f"item:{sale.item_id}")]


async def test_an_event_ended_early_sells_nothing_more_and_cannot_end_twice(buy_ctx: Context) -> None:
    sale = await make_sale(buy_ctx, quantity=5, limit=1)
    buyers = await make_buyers(buy_ctx, 2)
    operator, _ = await make_user(buy_ctx, Role.OPERATOR)
    ended = await controls.end_event_early(buy_ctx, operator, sale.event_id)
    assert ended.action == "event.ended_early"
    assert await _refusal(buy_ctx, buyers[0][0], sale.item_id, "late") == "sale_ended"
    with pytest.raises(Conflict) as again:
        await controls.end_event_early(buy_ctx, operator, sale.event_id)
    assert again.value.code == "bad_state"
    with pytest.raises(Conflict):  # an ended sale cannot be paused or topped up either
        await controls.pause_item(buy_ctx, operator, sale.item_id)
    upcoming = await make_sale(buy_ctx, quantity=5, limit=1, starts_in=timedelta(hours=1))
    with pytest.raises(Conflict, match="cancel it instead"):
        await controls.end_event_early(buy_ctx, operator, upcoming.event_id)
    assert await _audit(buy_ctx) == [("event.ended_early", f"event:{sale.event_id}")]


@pytest.fixture
async def http(ctx: Context) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(ctx=ctx))
    # The console's own words are checked in English here (its Chinese: test_console_language.py).
    english = {"accept-language": "en"}
    async with httpx.AsyncClient(transport=transport, base_url="http://shop.test", headers=english) as client:
        yield client


async def test_the_controls_over_http_are_for_operators_only_and_audited(
    ctx: Context, http: httpx.AsyncClient
) -> None:
    sale = await make_sale(ctx, quantity=5, limit=1)
    _, buyer_token = await make_user(ctx, Role.BUYER)
    operator_id, operator_token = await make_user(ctx, Role.OPERATOR)
    item = f"/api/v1/admin/sale-items/{sale.item_id}"
    assert (await http.post(f"{item}/pause", headers=auth(buyer_token))).status_code == 403
    assert (await http.post(f"{item}/pause")).status_code == 401
    answer = await http.post(f"{item}/pause", headers=auth(operator_token))
    assert answer.status_code == 200 and answer.json()["changed"] is True
    assert (
        await http.post("/api/v1/admin/sale-items/999999/pause", headers=auth(operator_token))
    ).status_code == 404
    bad = await http.post(f"{item}/top-up", json={"units": 0}, headers=auth(operator_token))
    assert bad.status_code == 422
    short = await http.post(f"{item}/top-up", json={"units": 50}, headers=auth(operator_token))
    assert (short.status_code, short.json()["code"]) == (409, "insufficient_stock")
    resumed = await http.post(f"/api/v1/admin/events/{sale.event_id}/pause", headers=auth(operator_token))
    assert resumed.status_code == 200

    # The console's forms: CSRF checked, a flash message and back to the board.
    data = {"uid": operator_id, "role": "operator", "name": "Test operator", "csrf": CSRF}
    http.cookies.set(
        web_session.COOKIE, web_session.encode(data, ctx.settings.keys.secret, 3600), domain="shop.test"
    )
    forged = await http.post(f"/operator/board/items/{sale.item_id}/resume", data={"csrf_token": "nope"})
    assert forged.status_code == 403
    done = await http.post(f"/operator/board/items/{sale.item_id}/resume", data={"csrf_token": CSRF})
    assert (done.status_code, done.headers["location"]) == (303, "/operator/board")
    board = await http.get("/operator/board")
    assert f"Item {sale.item_id} resumed." in board.text and "Resume event" in board.text
    refused = await http.post(
        f"/operator/board/items/{sale.item_id}/top-up", data={"csrf_token": CSRF, "units": "x"}
    )
    assert refused.status_code == 303
    assert "whole number" in (await http.get("/operator/board")).text

    log = await http.get("/api/v1/admin/audit", headers=auth(operator_token))
    assert [(e["action"], e["subject"]) for e in log.json()] == [
        ("sale_item.resumed", f"item:{sale.item_id}"),
        ("event.paused", f"event:{sale.event_id}"),
        ("sale_item.paused", f"item:{sale.item_id}"),
    ]
    only = await http.get(
        "/api/v1/admin/audit", params={"action": "event.paused"}, headers=auth(operator_token)
    )
    assert [e["subject"] for e in only.json()] == [f"event:{sale.event_id}"]
    page = await http.get("/operator/audit", params={"subject": f"item:{sale.item_id}"})
    assert page.status_code == 200 and page.text.count("data-audit-id=") == 2
    assert (await http.get("/api/v1/admin/audit", headers=auth(buyer_token))).status_code == 403


async def test_every_console_operation_states_its_role_and_errors(http: httpx.AsyncClient) -> None:
    spec = (await http.get("/openapi.json")).json()
    operations = [op for ops in spec["paths"].values() for op in ops.values() if op["tags"] == ["console"]]
    assert len(operations) == 8  # the board, six controls, the audit log
    for operation in operations:
        duty = Duty.AUDIT if operation["operationId"].startswith("audit") else Duty.LIVE_SALE
        assert operation["x-roles"] == [r.value for r in roles_for(duty)], operation["summary"]
        assert {"401", "403"} <= set(operation["responses"]), operation["summary"]
        if operation["operationId"].startswith(("pause", "resume", "end", "top_up")):
            assert {"404", "409", "422"} <= set(operation["responses"]), operation["summary"]
