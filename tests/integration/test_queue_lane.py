"""The waiting room's fast lane (``api/queue_lane.py``): the same bytes get the same answer from the
lane as from the FastAPI route, and the lane answers the common join and poll by itself (checked on an
app whose route would fail if reached). On both storage backends and both stock engines."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from flashport.api.deps import get_ctx
from flashport.app import create_app
from flashport.domain.accounts import Role
from flashport.services.context import Context
from flashport.services.waiting_room import queue, rooms
from tests.factories import auth, make_user
from tests.sale_builder import make_buyers, make_sale

MEANINGFUL = ("content-type", "etag", "cache-control", "www-authenticate")


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
            if name == "poll, admitted":
                assert by_route.json()["state"] == "admitted" and by_route.json()["admission_token"]
                seen_etag = by_route.headers["etag"]
        unchanged = {**auth(admitted_token), "if-none-match": seen_etag}
        for client in (route, laned, lane_only):
            again = await client.get(queue_url, headers=unchanged)
            assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == seen_etag
    joined = await queue.status(ctx, newcomer, sale.item_id)
    assert joined.state is queue.QueueState.WAITING and joined.position == 1  # one place, taken once


def _meaningful(answer: httpx.Response) -> dict[str, Any]:
    return {name: answer.headers.get(name) for name in MEANINGFUL}
