"""The waiting room (issue 19, point 1; rule 12): a hot item needs an admission token to be bought, the
pre-queue is shuffled at the start and later arrivals queue in order, one place per buyer, admission at
the operator's rate, the poll's ETag, sold out said at once with the waitlist, and two API processes
sharing one queue. On both storage backends and both stock engines."""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from flashport.app import create_app
from flashport.domain.accounts import Role
from flashport.domain.errors import DomainError
from flashport.domain.waiting_room import solve_challenge
from flashport.services.context import Context
from flashport.services.sales import buying
from flashport.services.waiting_room import queue, rooms
from flashport.services.waiting_room.queue import QueueState
from tests.clocks import ShiftedClock
from tests.factories import auth, make_user
from tests.sale_builder import make_buyers, make_sale
from tests.servers import ServerProcess
from tests.waiting import eventually


class StillClock:
    """UTC time that stands still until the test moves it: the admission cursor moves only when told."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, by: timedelta) -> None:
        self.now += by


@pytest.fixture
async def room_ctx(buy_ctx: Context) -> AsyncIterator[Context]:
    """The buy context with rooms re-read on every call (no waiting for a refresh) and no friction."""
    buy_ctx.settings = buy_ctx.settings.model_copy(
        update={"queue_refresh_seconds": 0.001, "queue_challenge_bits": 0}
    )
    yield buy_ctx


async def _refusal(ctx: Context, buyer: int, item_id: int, admission: str | None = None) -> str | None:
    try:
        await buying.buy(ctx, buyer, item_id, 1, uuid.uuid4().hex, admission)
    except DomainError as exc:
        return exc.code
    return None


async def test_a_hot_item_is_bought_only_with_the_admission_token_its_queue_gave(room_ctx: Context) -> None:
    ctx = room_ctx
    sale = await make_sale(ctx, quantity=5, limit=1)
    (alice, _), (bob, _) = await make_buyers(ctx, 2)
    operator, _ = await make_user(ctx, Role.OPERATOR)
    assert await _refusal(ctx, alice, sale.item_id) is None  # not hot yet: no token needed
    await rooms.mark_hot(ctx, operator, sale.item_id, rooms.RoomSettings(admit_per_second=1000))
    assert await _refusal(ctx, bob, sale.item_id) == "admission_required"
    joined = await _joined_and_admitted(ctx, bob, sale.item_id)
    assert joined.state is QueueState.ADMITTED and joined.admission_token
    assert await _refusal(ctx, bob, sale.item_id, joined.admission_token + "x") == "invalid_admission"
    (carol, _) = (await make_buyers(ctx, 1))[0]
    assert await _refusal(ctx, carol, sale.item_id, joined.admission_token) == "invalid_admission"  # Bob's
    assert await _refusal(ctx, bob, sale.item_id, joined.admission_token) is None
    clock = ShiftedClock()
    ctx.clock = clock
    clock.advance(timedelta(seconds=ctx.settings.queue_admission_seconds + 2))
    assert await _refusal(ctx, bob, sale.item_id, joined.admission_token) == "admission_expired"


async def _joined_and_admitted(ctx: Context, buyer: int, item_id: int) -> queue.QueueStatus:
    """Join, and poll once the room's rate had time to admit the newcomer (1 ms at 1,000 a second: the
    clock stands still meanwhile, so the test does not depend on how fast the machine is)."""
    clock, ctx.clock = ctx.clock, StillClock()
    try:
        await queue.join(ctx, buyer, item_id, "10.0.0.2")
        ctx.clock.advance(timedelta(seconds=1))  # type: ignore[attr-defined]
        return await queue.status(ctx, buyer, item_id)
    finally:
        ctx.clock = clock


async def test_a_hot_item_goes_into_a_basket_only_with_an_admission_token(room_ctx: Context) -> None:
    from flashport.services.orders import basket

    ctx = room_ctx
    sale = await make_sale(ctx, quantity=5, limit=1)
    (alice, _), (bob, _) = await make_buyers(ctx, 2)
    operator, _ = await make_user(ctx, Role.OPERATOR)
    await rooms.mark_hot(ctx, operator, sale.item_id, rooms.RoomSettings(admit_per_second=1000))
    with pytest.raises(DomainError) as refused:
        await basket.add(ctx, alice, sale.item_id, "basket-1")
    assert refused.value.code == "admission_required"
    joined = await _joined_and_admitted(ctx, bob, sale.item_id)
    assert joined.admission_token
    await basket.add(ctx, bob, sale.item_id, "basket-2", joined.admission_token)
    assert [u.sale_item_id for u in (await basket.view(ctx, bob)).units] == [sale.item_id]
    assert [u.sale_item_id for u in (await basket.view(ctx, alice)).units] == []


async def test_the_pre_queue_is_shuffled_at_the_start_then_later_arrivals_queue_in_order(
    room_ctx: Context,
) -> None:
    ctx = room_ctx
    clock = ShiftedClock()
    ctx.clock = clock
    sale = await make_sale(ctx, quantity=500, limit=1, starts_in=timedelta(minutes=10))
    operator, _ = await make_user(ctx, Role.OPERATOR)
    await rooms.mark_hot(
        ctx, operator, sale.item_id, rooms.RoomSettings(opens_before_seconds=900, admit_per_second=0.001)
    )
    early = [b for b, _ in await make_buyers(ctx, 60)]
    for buyer in early:
        assert (await queue.join(ctx, buyer, sale.item_id, None)).state is QueueState.PRE_QUEUE
    clock.advance(timedelta(minutes=10, seconds=1))
    late = [b for b, _ in await make_buyers(ctx, 5)]
    positions = {b: (await queue.join(ctx, b, sale.item_id, None)).position for b in early + late}
    early_places = [positions[b] or 0 for b in early]
    assert sorted(early_places) == list(range(1, 61))  # every early buyer got one of the first places
    assert early_places != list(range(1, 61))  # ... not in order of arrival (1 in 60! to be so)
    assert [positions[b] for b in late] == [61, 62, 63, 64, 65]  # first come, first served after
    again = await queue.join(ctx, late[0], sale.item_id, None)
    assert again.position == 61  # one place per buyer: joining again changes nothing
    figures = await rooms.figures(ctx, sale.item_id)
    assert (figures.queued, figures.pre_queue, figures.admitted) == (65, 0, 0)


async def test_admission_moves_at_the_operators_rate_and_the_wait_is_estimated(room_ctx: Context) -> None:
    ctx = room_ctx
    clock = StillClock()
    ctx.clock = clock
    sale = await make_sale(ctx, quantity=100, limit=1)
    operator, _ = await make_user(ctx, Role.OPERATOR)
    await rooms.mark_hot(ctx, operator, sale.item_id, rooms.RoomSettings(admit_per_second=2))
    buyers = [b for b, _ in await make_buyers(ctx, 10)]
    for buyer in buyers:
        await queue.join(ctx, buyer, sale.item_id, None)
    first = await queue.status(ctx, buyers[0], sale.item_id)
    tenth = await queue.status(ctx, buyers[9], sale.item_id)
    assert first.state is QueueState.WAITING and tenth.state is QueueState.WAITING
    assert tenth.position == 10 and tenth.estimated_wait_seconds is not None
    assert 4 <= tenth.estimated_wait_seconds <= 5  # 10 places at 2 a second, less what moved already
    clock.advance(timedelta(seconds=3))
    states = [(await queue.status(ctx, b, sale.item_id)).state for b in buyers]
    assert states[:6] == [QueueState.ADMITTED] * 6  # 3 s at 2 a second
    assert states[7:] == [QueueState.WAITING] * 3
    clock.advance(timedelta(seconds=5))
    assert (await queue.status(ctx, buyers[9], sale.item_id)).state is QueueState.ADMITTED


async def test_when_every_unit_is_reserved_the_queue_says_so_at_once(room_ctx: Context) -> None:
    ctx = room_ctx
    sale = await make_sale(ctx, quantity=1, limit=1)
    operator, _ = await make_user(ctx, Role.OPERATOR)
    await rooms.mark_hot(ctx, operator, sale.item_id, rooms.RoomSettings(admit_per_second=1))
    buyers = [b for b, _ in await make_buyers(ctx, 3)]
    for buyer in buyers:
        await queue.join(ctx, buyer, sale.item_id, None)
    clock = StillClock()
    ctx.clock = clock
    clock.advance(timedelta(seconds=1))
    admitted = await queue.status(ctx, buyers[0], sale.item_id)
    assert admitted.state is QueueState.ADMITTED
    assert await _refusal(ctx, buyers[0], sale.item_id, admitted.admission_token) is None
    for buyer in buyers[1:]:
        assert (await queue.status(ctx, buyer, sale.item_id)).state is QueueState.SOLD_OUT


async def test_the_queue_api_polls_with_an_etag_and_points_at_the_waitlist(room_ctx: Context) -> None:
    ctx = room_ctx
    sale = await make_sale(ctx, quantity=1, limit=1)
    _, operator_token = await make_user(ctx, Role.OPERATOR)
    (_, first_token), (_, second_token) = await make_buyers(ctx, 2)
    app = create_app(ctx=ctx)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http:
        url = f"/api/v1/sale-items/{sale.item_id}"
        put = await http.put(
            f"{url}/waiting-room", json={"admit_per_second": 0.001}, headers=auth(second_token)
        )
        assert put.status_code == 403
        put = await http.put(
            f"{url}/waiting-room", json={"admit_per_second": 0.001}, headers=auth(operator_token)
        )
        assert put.status_code == 200 and put.json()["admit_per_second"] == 0.001
        buy = await http.post(f"{url}/buy", json={}, headers={**auth(first_token), "Idempotency-Key": "k1"})
        assert (buy.status_code, buy.json()["code"]) == (403, "admission_required")
        joined = await http.post(f"{url}/queue", headers=auth(first_token))
        assert joined.json()["state"] == "waiting" and joined.json()["position"] == 1
        polled = await http.get(f"{url}/queue", headers=auth(first_token))
        etag = polled.headers["etag"]
        again = await http.get(f"{url}/queue", headers={**auth(first_token), "If-None-Match": etag})
        assert again.status_code == 304 and again.content == b""
        await http.put(f"{url}/waiting-room", json={"admit_per_second": 100}, headers=auth(operator_token))
        clock = StillClock()
        ctx.clock = clock
        clock.advance(timedelta(seconds=1))
        admitted = (await http.get(f"{url}/queue", headers=auth(first_token))).json()
        assert admitted["state"] == "admitted" and admitted["buy_url"] == f"{url}/buy"
        body = {"quantity": 1, "admission": admitted["admission_token"]}
        buy = await http.post(
            admitted["buy_url"], json=body, headers={**auth(first_token), "Idempotency-Key": "k2"}
        )
        assert buy.status_code == 201
        await http.post(f"{url}/queue", headers=auth(second_token))
        sold_out = (await http.get(f"{url}/queue", headers=auth(second_token))).json()
        assert (
            sold_out["state"] == "sold_out" and sold_out["waitlist_url"] == f"/items/{sale.item_id}#waitlist"
        )
        figures = (await http.get(f"{url}/waiting-room", headers=auth(operator_token))).json()
        assert figures["queued"] == 2 and figures["admitted"] >= 1
        gone = await http.delete(f"{url}/waiting-room", headers=auth(operator_token))
        assert gone.status_code == 204


def _server_env(ctx: Context) -> dict[str, str]:
    s = ctx.settings
    env = {
        **os.environ,
        "FLASHPORT_ENV": "test",
        "FLASHPORT_DATA_DIR": str(s.data_dir),
        "FLASHPORT_REDIS_PREFIX": s.redis_prefix,
        "FLASHPORT_LOG_LEVEL": "warning",
        "FLASHPORT_RATE_LIMITS": "false",
        "FLASHPORT_QUEUE_CHALLENGE_BITS": "0",
    }
    env.pop("FLASHPORT_DATABASE_URL", None)
    env.pop("FLASHPORT_REDIS_URL", None)
    if s.database_url:
        env["FLASHPORT_DATABASE_URL"] = s.database_url
    if s.redis_url:
        env["FLASHPORT_REDIS_URL"] = s.redis_url
    return env


async def _admitted(http: httpx.AsyncClient, url: str, token: str) -> dict[str, Any] | None:
    status: dict[str, Any] = (await http.get(url, headers=auth(token))).json()
    return status if status["state"] in ("admitted", "sold_out") else None


@pytest.mark.slow
async def test_two_api_processes_share_one_queue_and_honour_each_others_tokens(room_ctx: Context) -> None:
    ctx = room_ctx
    sale = await make_sale(ctx, quantity=4, limit=1)
    _, operator_token = await make_user(ctx, Role.OPERATOR)
    buyers = await make_buyers(ctx, 6)
    one = await ServerProcess.start(_server_env(ctx))
    try:
        two = await ServerProcess.start(_server_env(ctx))
        try:
            async with httpx.AsyncClient(trust_env=False, timeout=30) as http:
                url = f"/api/v1/sale-items/{sale.item_id}"
                put = await http.put(
                    f"{one.url}{url}/waiting-room",
                    json={"admit_per_second": 1000},
                    headers=auth(operator_token),
                )
                assert put.status_code == 200
                positions = []
                for n, (_, token) in enumerate(buyers):  # joins alternate between the two processes
                    server = (one, two)[n % 2]
                    positions.append(
                        (await http.post(f"{server.url}{url}/queue", headers=auth(token))).json()
                    )
                assert {p["state"] for p in positions} <= {"admitted", "waiting"}
                figures = await http.get(f"{two.url}{url}/waiting-room", headers=auth(operator_token))
                assert figures.json()["queued"] == 6  # one queue, whichever process took the join
                answers: list[object] = []
                for n, (_, token) in enumerate(buyers):  # polled and bought on the other process
                    server = (two, one)[n % 2]
                    poll_url = f"{server.url}{url}/queue"

                    async def admitted(poll_url: str = poll_url, token: str = token) -> dict[str, Any] | None:
                        return await _admitted(http, poll_url, token)

                    status: dict[str, Any] = await eventually(admitted, what="admission on the other process")
                    refused = await http.post(
                        f"{server.url}{url}/buy", json={}, headers={**auth(token), "Idempotency-Key": f"n{n}"}
                    )
                    assert refused.json()["code"] == "admission_required"  # on either process
                    if status["state"] == "admitted":
                        bought = await http.post(
                            f"{server.url}{url}/buy",
                            json={"admission": status["admission_token"]},
                            headers={**auth(token), "Idempotency-Key": f"b{n}"},
                        )
                        answers.append(bought.status_code)
                    else:
                        answers.append(status["state"])
        finally:
            await two.stop()
    finally:
        await one.stop()
    assert answers.count(201) == 4  # every unit sold, to admitted buyers only
    assert all(a in (201, 409, "sold_out") for a in answers)


# --- bot friction (issue 19, point 3) --------------------------------------------------------------


def _not_a_solution(challenge: str) -> str:
    """An answer that certainly fails (a fixed wrong guess would pass one time in 2**bits)."""
    from flashport.domain.waiting_room import challenge_difficulty, leading_zero_bits

    n = 0
    while True:
        digest = hashlib.sha256(f"{challenge}:{n}".encode()).digest()
        if leading_zero_bits(digest) < challenge_difficulty(challenge):
            return str(n)
        n += 1


def _friction(ctx: Context, *, accounts: int, burst: int) -> None:
    ctx.settings = ctx.settings.model_copy(
        update={
            "queue_challenge_bits": 8,
            "queue_accounts_per_address": accounts,
            "queue_joins_per_address_burst": burst,
        }
    )


async def test_too_many_accounts_from_one_address_must_answer_a_proof_of_work_to_join(
    room_ctx: Context,
) -> None:
    ctx = room_ctx
    _friction(ctx, accounts=3, burst=1000)
    sale = await make_sale(ctx, quantity=10, limit=1)
    operator, _ = await make_user(ctx, Role.OPERATOR)
    await rooms.mark_hot(ctx, operator, sale.item_id, rooms.RoomSettings(admit_per_second=0.01))
    buyers = [b for b, _ in await make_buyers(ctx, 6)]
    for buyer in buyers[:3]:
        assert (await queue.join(ctx, buyer, sale.item_id, "10.1.1.1")).state is QueueState.WAITING
    put = await queue.join(ctx, buyers[3], sale.item_id, "10.1.1.1")
    assert put.state is QueueState.CHALLENGE and put.challenge is not None
    assert (
        await queue.join(ctx, buyers[4], sale.item_id, "10.2.2.2")
    ).state is QueueState.WAITING  # elsewhere
    with pytest.raises(DomainError) as wrong:  # a number that does not give enough zero bits
        await queue.join(
            ctx, buyers[3], sale.item_id, "10.1.1.1", put.challenge, _not_a_solution(put.challenge)
        )
    assert wrong.value.code == "wrong_solution"
    solution = solve_challenge(put.challenge)
    with pytest.raises(DomainError) as borrowed:  # a puzzle is its buyer's own
        await queue.join(ctx, buyers[5], sale.item_id, "10.1.1.1", put.challenge, solution)
    assert borrowed.value.code == "invalid_challenge"
    solved = await queue.join(ctx, buyers[3], sale.item_id, "10.1.1.1", put.challenge, solution)
    assert solved.state is QueueState.WAITING and solved.position == 5
    figures = await rooms.figures(ctx, sale.item_id)
    assert (figures.challenged, figures.passed) == (1, 1)


async def test_a_burst_of_joins_from_one_address_is_challenged_over_the_api(room_ctx: Context) -> None:
    ctx = room_ctx
    _friction(ctx, accounts=1000, burst=2)
    sale = await make_sale(ctx, quantity=10, limit=1)
    _, operator_token = await make_user(ctx, Role.OPERATOR)
    buyers = await make_buyers(ctx, 3)
    app = create_app(ctx=ctx)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http:
        url = f"/api/v1/sale-items/{sale.item_id}"
        await http.put(f"{url}/waiting-room", json={"admit_per_second": 0.01}, headers=auth(operator_token))
        states = [(await http.post(f"{url}/queue", headers=auth(t))).json() for _, t in buyers]
        assert [s["state"] for s in states] == ["waiting", "waiting", "challenge"]
        answer = {"challenge": states[2]["challenge"], "solution": solve_challenge(states[2]["challenge"])}
        joined = await http.post(f"{url}/queue", json=answer, headers=auth(buyers[2][1]))
        assert joined.json()["state"] == "waiting" and joined.json()["position"] == 3
        figures = (await http.get(f"{url}/waiting-room", headers=auth(operator_token))).json()
        assert (figures["challenged"], figures["passed"]) == (1, 1)
