"""The waiting room's fast lanes (``api/queue_lane.py`` in the ASGI stack, and the buy edge in front of
uvicorn, ``api/buy/edge.py``): the same bytes get the same answer from them as from the FastAPI route,
and each answers the common join and poll by itself (the ASGI lane checked on an app whose route would
fail if reached, the edge by answering without uvicorn). On both storage backends and both stock
engines."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
import pytest

from flashport.api.deps import get_ctx
from flashport.app import create_app
from flashport.domain.accounts import Role
from flashport.services.context import Context
from flashport.services.waiting_room import queue, rooms
from tests.factories import auth, make_user
from tests.integration.test_buy_edge import connected, edge_server, port_of, request
from tests.sale_builder import make_buyers, make_sale

MEANINGFUL = ("content-type", "etag", "cache-control", "www-authenticate")
REFUSED_BY_THE_SERVICE = {"poll, no room"}


class StillClock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
async def still_ctx(buy_ctx: Context) -> AsyncIterator[Context]:
    """Rooms re-read on every call, no friction, and a clock that stands still: the route and the lane
    then sign the same admission token, so their answers can be compared byte for byte."""
    buy_ctx.settings = buy_ctx.settings.model_copy(
        update={"queue_refresh_seconds": 0.001, "queue_challenge_bits": 0}
    )
    buy_ctx.clock = StillClock()
    yield buy_ctx


def _client(ctx: Context, *, fast_lane: bool, route_unreachable: bool = False) -> httpx.AsyncClient:
    app = create_app(ctx=ctx, fast_lane=fast_lane)
    if route_unreachable:

        def unreachable() -> Context:
            raise AssertionError("the fast lane should have answered this request itself")

        app.dependency_overrides[get_ctx] = unreachable
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, client=("10.1.2.3", 5000)), base_url="http://shop.test"
    )


async def test_the_lane_and_the_route_answer_the_same_bytes_alike(still_ctx: Context) -> None:
    ctx = still_ctx
    sale = await make_sale(ctx, quantity=5, limit=1)
    plain_sale = await make_sale(ctx, quantity=5, limit=1)  # not hot: no waiting room
    operator, op_token = await make_user(ctx, Role.OPERATOR)
    await rooms.mark_hot(ctx, operator, sale.item_id, rooms.RoomSettings(admit_per_second=1000))
    (
        (admitted, admitted_token),
        (newcomer, newcomer_token),
        (_, other_token),
        (_, stranger),
    ) = await make_buyers(ctx, 4)
    await queue.join(ctx, admitted, sale.item_id, "10.0.0.2")
    ctx.clock.now += timedelta(seconds=1)  # type: ignore[attr-defined]  # the rate admits the first
    queue_url = f"/api/v1/sale-items/{sale.item_id}/queue"
    json = {"content-type": "application/json"}
    seen_etag = ""

    # (name, method, path, headers, body, whether the lane answers it by itself)
    cases: list[tuple[str, str, str, dict[str, str], bytes, bool]] = [
        ("poll, admitted", "GET", queue_url, auth(admitted_token), b"", True),
        ("poll, never joined", "GET", queue_url, auth(stranger), b"", True),
        ("join, no body", "POST", queue_url, auth(newcomer_token), b"", True),
        ("join again, empty object", "POST", queue_url, {**auth(newcomer_token), **json}, b"{}", True),
        ("join, empty object as text", "POST", queue_url, {**auth(other_token), "content-type": "text/plain"},
         b"{}", False),
        ("join, a wrong answer", "POST", queue_url, {**auth(other_token), **json},
         b'{"challenge": "pow1.x", "solution": "1"}', False),
        ("join, not JSON", "POST", queue_url, {**auth(other_token), **json}, b"{", False),
        ("poll, no token", "GET", queue_url, {}, b"", False),
        ("poll, basic auth", "GET", queue_url, {"authorization": "Basic YTpi"}, b"", False),
        ("poll, forged token", "GET", queue_url, auth("not.a.token"), b"", False),
        ("poll, an operator", "GET", queue_url, auth(op_token), b"", False),
        ("poll, no room", "GET", f"/api/v1/sale-items/{plain_sale.item_id}/queue", auth(admitted_token), b"",
         False),
        ("poll, id zero", "GET", "/api/v1/sale-items/0/queue", auth(admitted_token), b"", False),
        ("poll, id past 64 bits", "GET", "/api/v1/sale-items/99999999999999999999/queue",
         auth(admitted_token), b"", False),
    ]  # fmt: skip
    async with (
        _client(ctx, fast_lane=False) as route,
        _client(ctx, fast_lane=True) as laned,
        _client(ctx, fast_lane=True, route_unreachable=True) as lane_only,
        edge_server(create_app(ctx=ctx, fast_lane=True)) as edge,
    ):
        for name, method, path, headers, body, by_lane in cases:
            by_route = await route.request(method, path, headers=headers, content=body)
            answers = [by_route, await laned.request(method, path, headers=headers, content=body)]
            if by_lane:
                answers.append(await lane_only.request(method, path, headers=headers, content=body))
            for answer in answers[1:]:
                assert answer.status_code == by_route.status_code, (name, answer.text, by_route.text)
                assert answer.content == by_route.content, name
                assert _meaningful(answer) == _meaningful(by_route), name
            async with connected(port_of(edge)) as conn:  # a connection of its own: who answers shows
                await conn.send(request(method, path, headers=list(headers.items()), body=body or None))
                on_edge = await conn.response()
            assert on_edge.status == by_route.status_code, (name, on_edge.body, by_route.text)
            assert on_edge.body == by_route.content, name
            assert {h: on_edge.headers.get(h) for h in MEANINGFUL} == _meaningful(by_route), name
            # The edge answers the common case itself, and the service's refusals too (the lane leaves
            # those to the route); what the service never sees goes to uvicorn.
            assert on_edge.by_uvicorn is not (by_lane or name in REFUSED_BY_THE_SERVICE), name
            if name == "poll, admitted":
                assert by_route.json()["state"] == "admitted" and by_route.json()["admission_token"]
                seen_etag = by_route.headers["etag"]
        unchanged = {**auth(admitted_token), "if-none-match": seen_etag}
        for client in (route, laned, lane_only):
            again = await client.get(queue_url, headers=unchanged)
            assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == seen_etag
        async with connected(port_of(edge)) as conn:
            await conn.send(request("GET", queue_url, headers=list(unchanged.items())))
            again_on_edge = await conn.response()
        assert again_on_edge.status == 304 and not again_on_edge.by_uvicorn
        assert again_on_edge.headers["etag"] == seen_etag and "content-length" not in again_on_edge.headers
    joined = await queue.status(ctx, newcomer, sale.item_id)
    assert joined.state is queue.QueueState.WAITING and joined.position == 1  # one place, taken once


def _meaningful(answer: httpx.Response) -> dict[str, Any]:
    return {name: answer.headers.get(name) for name in MEANINGFUL}


async def test_a_buyers_join_poll_and_purchase_on_one_connection_stay_on_the_edge(still_ctx: Context) -> None:
    """Through the room each buyer joins, polls and buys: on the edge the connection is never handed to
    uvicorn for it (which would then serve its purchases too, at several times the cost)."""
    ctx = still_ctx
    sale = await make_sale(ctx, quantity=5, limit=1)
    operator, _ = await make_user(ctx, Role.OPERATOR)
    await rooms.mark_hot(ctx, operator, sale.item_id, rooms.RoomSettings(admit_per_second=1000))
    [(_, token)] = await make_buyers(ctx, 1)
    queue_url = f"/api/v1/sale-items/{sale.item_id}/queue"
    headers = list(auth(token).items())
    async with edge_server(create_app(ctx=ctx, fast_lane=True)) as edge, connected(port_of(edge)) as conn:
        await conn.send(request("POST", queue_url, headers=headers))
        joined = await conn.response()
        ctx.clock.now += timedelta(seconds=1)  # type: ignore[attr-defined]  # the rate admits it
        await conn.send(request("GET", queue_url, headers=headers))
        polled = await conn.response()
        admission = polled.json()["admission_token"]
        body = orjson.dumps({"quantity": 1, "admission": admission})
        keyed = [*headers, ("Idempotency-Key", "k")]
        await conn.send(request("POST", polled.json()["buy_url"], headers=keyed, body=body))
        bought = await conn.response()
    assert joined.status == 200 and joined.json()["state"] == "waiting"
    assert polled.status == 200 and polled.json()["state"] == "admitted"
    assert bought.status == 201, bought.body
    assert not any(answer.by_uvicorn for answer in (joined, polled, bought))


async def test_a_join_the_edge_leaves_to_the_route_is_answered_after_the_purchase_sent_before_it(
    still_ctx: Context,
) -> None:
    """A purchase and then a join with a body (a challenge's answer), pipelined in one write: the edge
    answers the purchase, then hands the connection to uvicorn, whose route reads the join's body (with
    no friction set, it joins); the answers come in order."""
    ctx = still_ctx
    sale = await make_sale(ctx, quantity=5, limit=1)
    hot = await make_sale(ctx, quantity=5, limit=1)
    operator, _ = await make_user(ctx, Role.OPERATOR)
    await rooms.mark_hot(ctx, operator, hot.item_id, rooms.RoomSettings(admit_per_second=1000))
    [(_, token)] = await make_buyers(ctx, 1)
    headers = list(auth(token).items())
    keyed = [*headers, ("Idempotency-Key", "p")]
    buy = request("POST", f"/api/v1/sale-items/{sale.item_id}/buy", headers=keyed, body=b'{"quantity": 1}')
    join = request("POST", f"/api/v1/sale-items/{hot.item_id}/queue", headers=headers,
                   body=b'{"challenge": "pow1.x", "solution": "1"}')  # fmt: skip
    async with edge_server(create_app(ctx=ctx, fast_lane=True)) as edge, connected(port_of(edge)) as conn:
        await conn.send(buy, join)
        bought = await conn.response()
        joined = await conn.response()
    assert bought.status == 201 and not bought.by_uvicorn
    assert joined.status == 200 and joined.by_uvicorn
    assert joined.json()["state"] == "waiting" and joined.json()["item_id"] == hot.item_id
