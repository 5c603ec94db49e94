"""Rate limits and the log-in lockout (``services/rate_limits.py``) through the API, on both limiters:
in this process (SQL stock engine, the embedded default) and in Redis (Redis stock engine).

Time is a :class:`StoppedClock` on the context: a bucket refills and a lock ends when the test moves
it, never by waiting, and a slow machine changes no ``Retry-After``.
"""

from __future__ import annotations

import asyncio
import math
import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from argon2 import PasswordHasher

from flashport.adapters.ratelimit.redis import RedisRateLimiter
from flashport.app import create_app
from flashport.services.accounts import users
from flashport.services.context import Context
from flashport.services.rate_limits import RateLimits
from flashport.web import session as web_session
from tests.factories import auth
from tests.sale_builder import make_buyers, make_sale

pytestmark = pytest.mark.redis_cluster


class StoppedClock:
    """UTC time that stands still until the test moves it."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, by: timedelta) -> None:
        self.now += by


PASSWORD = "Tq8#vLw2-mRz7!pk"
LIMITS: dict[str, Any] = {
    "rate_limits": True,
    "rate_buy_account": "2/10",  # 2 at once, then one every 5 s
    "rate_buy_address": "1000/10",
    "rate_login_account": "100/60",
    "rate_login_address": "100/60",
    "login_slow_after_failures": 2,  # the 2nd failure makes the next try wait 1 s
    "login_lock_after_failures": 3,  # the 3rd locks for 300 s, any later one for 900 s
    "login_lock_seconds": 300,
    "login_relock_seconds": 900,
}


@pytest.fixture
async def limited(buy_ctx: Context) -> AsyncIterator[tuple[Context, StoppedClock]]:
    """``buy_ctx`` with the limits above switched on, over its own limiter (Redis with the Redis
    engine), and a clock the test moves."""
    clock = StoppedClock()
    buy_ctx.clock = clock
    settings = buy_ctx.settings.model_copy(update=LIMITS)
    buy_ctx.limits = RateLimits.from_settings(settings, buy_ctx.limits.limiter)
    yield buy_ctx, clock


def api(ctx: Context, address: str = "203.0.113.7") -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=create_app(ctx=ctx), client=(address, 40000))
    english = {"accept-language": "en"}  # the storefront's wording is checked in English here
    return httpx.AsyncClient(transport=transport, base_url="http://shop.test", headers=english)


async def buy(http: httpx.AsyncClient, item_id: int, token: str) -> httpx.Response:
    headers = auth(token) | {"Idempotency-Key": uuid.uuid4().hex}
    return await http.post(f"/api/v1/sale-items/{item_id}/buy", json={"quantity": 1}, headers=headers)


async def test_a_buyer_past_their_bucket_gets_429_with_retry_after_until_a_token_comes_back(
    limited: tuple[Context, StoppedClock],
) -> None:
    ctx, clock = limited
    sale = await make_sale(ctx, quantity=10, limit=5)
    [(_, token)] = await make_buyers(ctx, 1)
    async with api(ctx) as http:
        first, second, refused = [await buy(http, sale.item_id, token) for _ in range(3)]
        clock.advance(timedelta(seconds=5))
        after_refill = await buy(http, sale.item_id, token)
        refused_again = await buy(http, sale.item_id, token)
    assert [first.status_code, second.status_code] == [201, 201]
    assert refused.status_code == 429
    assert refused.json()["code"] == "rate_limited"
    assert refused.headers["retry-after"] == "5"
    assert after_refill.status_code == 201
    assert refused_again.status_code == 429
    assert await ctx.stock.remaining([sale.item_id]) == {sale.item_id: 7}  # refusals reserved nothing


async def test_buyers_sharing_an_address_share_its_bucket(limited: tuple[Context, StoppedClock]) -> None:
    ctx, _ = limited
    settings = ctx.settings.model_copy(
        update=LIMITS | {"rate_buy_account": "5/10", "rate_buy_address": "2/60"}
    )
    ctx.limits = RateLimits.from_settings(settings, ctx.limits.limiter)
    sale = await make_sale(ctx, quantity=10, limit=5)
    buyers = await make_buyers(ctx, 3)
    async with api(ctx, "198.51.100.1") as crowd, api(ctx, "198.51.100.2") as elsewhere:
        answers = [await buy(crowd, sale.item_id, token) for _, token in buyers]
        other_address = await buy(elsewhere, sale.item_id, buyers[2][1])
    assert [a.status_code for a in answers] == [201, 201, 429]
    assert answers[2].headers["retry-after"] == "30"
    assert other_address.status_code == 201


async def test_checkout_and_paying_are_limited_per_buyer(limited: tuple[Context, StoppedClock]) -> None:
    ctx, _ = limited
    settings = ctx.settings.model_copy(
        update=LIMITS | {"rate_checkout_account": "1/60", "rate_pay_account": "1/60"}
    )
    ctx.limits = RateLimits.from_settings(settings, ctx.limits.limiter)
    [(_, token)] = await make_buyers(ctx, 1)
    checkout = {"identity_id": 1, "consignee_name": "李娜", "consignee_phone": "13800138000"}
    checkout["consignee_address"] = "上海市浦东新区世纪大道100号2201室"
    async with api(ctx) as http:
        answers = {
            door: [
                (await http.post(f"/api/v1/orders/FP-NONE/{door}", json=checkout, headers=auth(token)))
                for _ in "ab"
            ]
            for door in ("checkout", "pay")
        }
    for door, (first, second) in answers.items():
        assert first.status_code == 404, (door, first.text)  # no such order: the token was taken all the same
        assert (second.status_code, second.json()["code"]) == (429, "rate_limited"), door
        assert second.headers["retry-after"] == "60"


async def test_registration_is_limited_per_address(limited: tuple[Context, StoppedClock]) -> None:
    ctx, _ = limited
    settings = ctx.settings.model_copy(update=LIMITS | {"rate_register_address": "1/600"})
    ctx.limits = RateLimits.from_settings(settings, ctx.limits.limiter)
    tag = uuid.uuid4().hex[:8]
    async with api(ctx) as http:
        answers = [
            await http.post(
                "/api/v1/auth/register",
                json={"email": f"r{n}-{tag}@example.com", "password": PASSWORD, "name": "R"},
            )
            for n in range(2)
        ]
    assert answers[0].status_code == 202, answers[0].text  # registration answers alike for every address
    assert (answers[1].status_code, answers[1].json()["code"]) == (429, "rate_limited")
    assert answers[1].headers["retry-after"] == "600"


class CountingHasher(PasswordHasher):
    """The real Argon2 hasher, counting the password checks it makes."""

    def __init__(self) -> None:
        super().__init__()
        self.verified = 0

    def verify(self, hash: str | bytes, password: str | bytes) -> bool:
        self.verified += 1
        return super().verify(hash, password)


async def test_failed_log_ins_slow_then_lock_an_address_alike_whether_or_not_an_account_has_it(
    limited: tuple[Context, StoppedClock], monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx, clock = limited
    hasher = CountingHasher()
    monkeypatch.setattr(users, "_hasher", hasher)
    known = f"known-{uuid.uuid4().hex[:8]}@example.com"
    unknown = f"nobody-{uuid.uuid4().hex[:8]}@example.com"
    async with api(ctx) as http:
        registered = await http.post(
            "/api/v1/auth/register", json={"email": known, "password": PASSWORD, "name": "K"}
        )
        assert registered.status_code == 202, registered.text

        async def attempt(email: str, password: str = "wrong-guess-0000") -> tuple[int, str, str | None]:
            answer = await http.post("/api/v1/auth/login", json={"email": email, "password": password})
            return answer.status_code, answer.json().get("code", "ok"), answer.headers.get("retry-after")

        story: dict[str, list[tuple[int, str, str | None]]] = {known: [], unknown: []}
        checks: dict[str, list[int]] = {known: [], unknown: []}
        for email in (known, unknown):
            steps = story[email]
            steps += [await attempt(email), await attempt(email)]  # the 2nd failure: wait 1 s
            before = hasher.verified
            steps.append(await attempt(email, PASSWORD))  # too soon: refused without a password check
            checks[email].append(hasher.verified - before)
            clock.advance(timedelta(seconds=1))
            steps.append(await attempt(email))  # the 3rd failure: locked for 300 s
            before = hasher.verified
            steps.append(await attempt(email, PASSWORD))
            checks[email].append(hasher.verified - before)
            clock.advance(timedelta(seconds=300))
            steps.append(await attempt(email))  # one more failure: locked for 900 s
            steps.append(await attempt(email, PASSWORD))
            clock.advance(timedelta(seconds=900))
            steps.append(await attempt(email, PASSWORD))  # unlocked: the right password works (if any)
    locked, relocked = (429, "login_locked", "300"), (429, "login_locked", "900")
    wrong = (401, "bad_credentials", None)
    assert story[known] == [
        wrong,
        wrong,
        (429, "login_locked", "1"),
        wrong,
        locked,
        wrong,
        relocked,
        (200, "ok", None),
    ]
    assert story[unknown] == [*story[known][:-1], wrong]  # the same answers, but no account to log in to
    assert checks == {known: [0, 0], unknown: [0, 0]}  # no password hash computed while locked


async def test_a_success_clears_the_failures(limited: tuple[Context, StoppedClock]) -> None:
    ctx, clock = limited
    email = f"forgetful-{uuid.uuid4().hex[:8]}@example.com"
    async with api(ctx) as http:
        await http.post("/api/v1/auth/register", json={"email": email, "password": PASSWORD, "name": "F"})
        statuses = []
        for _ in range(3):
            statuses.append(
                (
                    await http.post("/api/v1/auth/login", json={"email": email, "password": "nope-0000"})
                ).status_code
            )
            clock.advance(timedelta(seconds=1))
            statuses.append(
                (
                    await http.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
                ).status_code
            )
    assert statuses == [401, 200] * 3  # never two failures in a row, so never slowed down


async def test_with_redis_unreachable_buckets_let_requests_through_and_log_in_fails_closed(
    limited: tuple[Context, StoppedClock],
) -> None:
    ctx, _ = limited
    import redis.asyncio as aioredis

    dead = aioredis.Redis.from_url("redis://127.0.0.1:9/0", socket_connect_timeout=1)  # discard port: refused
    ctx.limits = RateLimits.from_settings(ctx.settings.model_copy(update=LIMITS), RedisRateLimiter(dead, "x"))
    sale = await make_sale(ctx, quantity=10, limit=5)
    [(_, token)] = await make_buyers(ctx, 1)
    try:
        async with api(ctx) as http:
            bought = [await buy(http, sale.item_id, token) for _ in range(3)]
            login = await http.post(
                "/api/v1/auth/login", json={"email": "a@example.com", "password": "x-0000000"}
            )
    finally:
        await dead.aclose()
    assert [b.status_code for b in bought] == [201, 201, 201]  # the buckets were not asked
    assert (login.status_code, login.json()["code"]) == (503, "rate_limiter_unavailable")


# -- the storefront's doors ----------------------------------------------------------------------------


async def test_the_storefront_log_in_form_says_the_address_is_locked_without_checking_the_password(
    limited: tuple[Context, StoppedClock], monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx, _ = limited
    hasher = CountingHasher()
    monkeypatch.setattr(users, "_hasher", hasher)
    email = f"shopper-{uuid.uuid4().hex[:8]}@example.com"
    async with api(ctx) as web:
        found = re.search(r'name="csrf_token" value="([^"]+)"', (await web.get("/login")).text)
        assert found is not None
        form = {"csrf_token": found.group(1), "email": email, "password": "wrong-guess-0000"}
        failures = [(await web.post("/login", data=form)).status_code for _ in range(2)]
        checked = hasher.verified
        locked = await web.post("/login", data=form)
    assert failures == [401, 401]
    assert (locked.status_code, locked.headers["retry-after"]) == (429, "1")
    assert "Too many failed log-ins" in locked.text and f'value="{email}"' in locked.text
    assert hasher.verified == checked


async def test_the_storefront_buy_button_is_limited_like_the_api(
    limited: tuple[Context, StoppedClock],
) -> None:
    ctx, _ = limited
    sale = await make_sale(ctx, quantity=10, limit=5)
    [(buyer_id, _)] = await make_buyers(ctx, 1)
    async with api(ctx) as web:
        csrf = "test-csrf-token"
        cookie = web_session.encode(
            {"uid": buyer_id, "role": "buyer", "name": "B", "csrf": csrf}, ctx.settings.keys.secret, 3600
        )
        web.cookies.set(web_session.COOKIE, cookie, domain="shop.test")
        headers = {"accept": "application/json", "x-csrf-token": csrf}
        answers = [
            await web.post(
                f"/items/{sale.item_id}/buy",
                data={"quantity": "1", "idempotency_key": f"k{n}"},
                headers=headers,
            )
            for n in range(3)
        ]
    assert [a.status_code for a in answers] == [201, 201, 429]
    assert (answers[2].json()["code"], answers[2].headers["retry-after"]) == ("rate_limited", "5")


@pytest.mark.parametrize("engine", ["redis", "redis-cluster"])
async def test_redis_judges_a_loop_turns_requests_as_one_after_another_would_be(
    request: pytest.FixtureRequest, engine: str
) -> None:
    """Requests of one loop turn go to Redis in one script call, which reads a key that several of them
    share (one address, many buyers) once and writes it once: each request is still judged exactly as
    the in-process limiter judges the same requests one after another, turn after turn."""
    from flashport.adapters import redis_client
    from flashport.adapters.ratelimit.memory import InProcessLimiter
    from flashport.domain.rate_limits import Bucket
    from tests.conftest import _delete_redis_prefix, redis_url_for

    prefix = f"fpt{uuid.uuid4().hex[:10]}"
    url = redis_url_for(request, engine)
    client = redis_client.connect(url)
    shared, memory = RedisRateLimiter(client, prefix), InProcessLimiter()
    address, account = Bucket.parse("10/10"), Bucket.parse("2/10")
    requests = [[(f"buy:account:{i % 7}", account), ("buy:address:10.0.0.1", address)] for i in range(30)] + [
        [(f"buy:address:10.0.0.{i % 3}", address)] for i in range(12)
    ]
    now = 1_800_000_000.0
    try:
        for turn in range(4):  # the buckets refill part-way between turns
            calls = shared.calls
            together = await asyncio.gather(*(shared.take(r, now) for r in requests))
            assert shared.calls == calls + 1  # one script call for the whole turn
            alone = [math.ceil(await memory.take(r, now) * 1000) / 1000 for r in requests]
            assert together == alone, f"turn {turn}"
            assert 0 < together.count(0.0) < len(requests)  # some allowed, some refused: it judged
            now += 3.7
    finally:
        await shared.close()
        await client.aclose()
        await _delete_redis_prefix(prefix, url)
