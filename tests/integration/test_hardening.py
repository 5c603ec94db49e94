"""Sessions that end, and input that never reaches the database malformed: on both backends."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from cryptography.fernet import Fernet
from sqlalchemy import event as sa_event

from flashport.adapters.session_revocations import RevocationList
from flashport.app import create_app
from flashport.bootstrap import build_context, close_context
from flashport.domain.accounts import Principal, Role
from flashport.services.accounts.identities import add_identity, own_identity
from flashport.services.accounts.rotation import reseal_everything
from flashport.services.accounts.tokens import issue_token
from flashport.services.context import Context
from flashport.settings import Settings
from tests.factories import auth, make_user

PASSWORD = "tangerine-orbit-42"


@pytest.fixture
async def web(ctx: Context) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(ctx=ctx))
    async with httpx.AsyncClient(transport=transport, base_url="http://shop.test") as http:
        yield http


async def _buyer(web: httpx.AsyncClient, ctx: Context) -> tuple[str, str]:
    email = f"b-{id(web)}-{ctx.clock().timestamp()}@example.com"
    assert (
        await web.post("/api/v1/auth/register", json={"email": email, "password": PASSWORD, "name": "B"})
    ).status_code == 202
    login = await web.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    return email, login.json()["access_token"]


async def _csrf(web: httpx.AsyncClient, path: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', (await web.get(path)).text)
    assert found is not None
    return found.group(1)


async def test_logout_ends_the_token_and_a_cookie_captured_before_it(
    ctx: Context, web: httpx.AsyncClient
) -> None:
    email, token = await _buyer(web, ctx)
    form = {"csrf_token": await _csrf(web, "/login"), "email": email, "password": PASSWORD, "next": "/orders"}
    assert (await web.post("/login", data=form)).status_code == 303
    captured = web.cookies["fp_session"]
    assert (await web.get("/orders")).status_code == 200
    assert (await web.get("/api/v1/me", headers=auth(token))).status_code == 200
    out = await web.post("/logout", data={"csrf_token": await _csrf(web, "/orders")})
    assert out.status_code == 303 and 'fp_session=""' in out.headers["set-cookie"]  # the cookie dies
    assert (await web.get("/api/v1/me", headers=auth(token))).json()["code"] == "invalid_token"
    web.cookies.set("fp_session", captured, domain="shop.test")
    assert (await web.get("/orders")).headers["location"] == "/login?next=/orders"


async def test_api_logout_and_password_change_end_every_session(ctx: Context, web: httpx.AsyncClient) -> None:
    email, token = await _buyer(web, ctx)
    assert (await web.post("/api/v1/auth/logout", headers=auth(token))).status_code == 204
    assert (await web.get("/api/v1/me", headers=auth(token))).status_code == 401
    token = (await web.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})).json()[
        "access_token"
    ]
    change = {"current_password": PASSWORD, "new_password": "another-long-phrase"}
    assert (await web.post("/api/v1/me/password", headers=auth(token), json=change)).status_code == 204
    assert (await web.get("/api/v1/me", headers=auth(token))).status_code == 401
    again = await web.post("/api/v1/auth/login", json={"email": email, "password": "another-long-phrase"})
    assert again.status_code == 200


async def test_a_deactivated_or_unknown_user_is_refused_even_on_the_buy_path(
    ctx: Context, web: httpx.AsyncClient
) -> None:
    _, op = await make_user(ctx, Role.OPERATOR)
    buyer_id, token = await make_user(ctx, Role.BUYER)
    assert (await web.post(f"/api/v1/users/{buyer_id}/deactivate", headers=auth(op))).status_code == 204
    assert (await web.get("/api/v1/me", headers=auth(token))).status_code == 401
    buy = await web.post(
        "/api/v1/sale-items/1/buy", headers={**auth(token), "Idempotency-Key": "k1"}, json={"quantity": 1}
    )
    assert buy.status_code == 401
    ghost = issue_token(ctx.settings, Principal(2**40, Role.OPERATOR), ctx.clock())
    assert (await web.get("/api/v1/users", headers=auth(ghost))).status_code == 401


async def test_another_process_learns_of_an_ended_session_within_one_poll(ctx: Context) -> None:
    user_id, _ = await make_user(ctx, Role.BUYER)
    other = RevocationList(ctx.engine, poll_seconds=1, keep=timedelta(hours=1))
    await other.poll(ctx.clock())
    assert other.is_open(user_id, 0)
    from flashport.services.accounts.sessions import end_sessions

    await end_sessions(ctx, user_id)
    await other.poll(ctx.clock())  # the next poll, at most FLASHPORT_SESSION_POLL_SECONDS later
    assert not other.is_open(user_id, 0) and other.is_open(user_id, 1)


async def test_a_crowd_of_first_requests_reads_the_users_standing_once(ctx: Context) -> None:
    """Each process looks a token's user up once; lookups arriving together share one query, so a crowd
    joining a waiting room does not open a pooled connection per buyer."""
    from flashport.services.accounts.sessions import set_active

    active = [(await make_user(ctx, Role.BUYER))[0] for _ in range(30)]
    gone = (await make_user(ctx, Role.BUYER))[0]
    await set_active(ctx, gone, False)
    other = RevocationList(ctx.engine, poll_seconds=1, keep=timedelta(hours=1))
    reads: list[str] = []

    def count(conn: object, cursor: object, statement: str, *args: object) -> None:
        if "session_version" in statement:
            reads.append(statement)

    asks = [*active, gone, 2**40, *active[:5]]  # some users asked twice at once
    sa_event.listen(ctx.engine.sync_engine, "before_cursor_execute", count)
    try:
        found = await asyncio.gather(*(other.standing(user_id) for user_id in asks))
    finally:
        sa_event.remove(ctx.engine.sync_engine, "before_cursor_execute", count)
    assert len(reads) == 1
    assert found[: len(active)] == [(True, 0)] * len(active)
    assert found[len(active)] == (False, 1) and found[len(active) + 1] is None
    assert found[-5:] == [(True, 0)] * 5


async def test_a_first_request_cancelled_while_it_waits_spoils_nobody_elses(ctx: Context) -> None:
    user_id, _ = await make_user(ctx, Role.BUYER)
    other = RevocationList(ctx.engine, poll_seconds=1, keep=timedelta(hours=1))
    quitter = asyncio.create_task(other.standing(user_id))
    stayer = asyncio.create_task(other.standing(user_id))
    await asyncio.sleep(0)  # both wait on the one read
    quitter.cancel()
    assert await stayer == (True, 0)
    with pytest.raises(asyncio.CancelledError):
        await quitter


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/brands/23185597575259759369029322035691520",
        "/api/v1/events/99999999999999999999",
        "/api/v1/admin/payments?limit=-99999999999999999999",
        "/api/v1/admin/payments?limit=-1",
        "/api/v1/brands?limit=-1",
        "/api/v1/brands?offset=99999999999999999999",
        "/api/v1/products?brand_id=99999999999999999999",
    ],
)
async def test_out_of_range_ids_and_paging_are_422_or_404_never_500(
    ctx: Context, web: httpx.AsyncClient, path: str
) -> None:
    _, op = await make_user(ctx, Role.OPERATOR)
    answer = await web.get(path, headers=auth(op))
    assert answer.status_code in (404, 422), answer.text


async def test_a_huge_item_id_through_the_fastapi_route_is_not_a_500(ctx: Context) -> None:
    _, token = await make_user(ctx, Role.BUYER)
    transport = httpx.ASGITransport(app=create_app(ctx=ctx, fast_lane=False))
    async with httpx.AsyncClient(transport=transport, base_url="http://shop.test") as http:
        answer = await http.post(
            "/api/v1/sale-items/9999999999999999999/buy",
            headers={**auth(token), "Idempotency-Key": "k"},
            json={},
        )
    assert answer.status_code in (404, 422), answer.text


async def test_nul_and_control_characters_are_422_on_every_kind_of_input(
    ctx: Context, web: httpx.AsyncClient
) -> None:
    _, op = await make_user(ctx, Role.OPERATOR)
    bodies = [
        ("/api/v1/auth/login", {"email": "a\x00@b.cn", "password": "x"}, {}),
        ("/api/v1/auth/register", {"email": "a@b.cn", "password": "long-enough\x00pw", "name": "N"}, {}),
        ("/api/v1/brands", {"name": "Evil\u202eBrand", "country": "FR"}, auth(op)),
        ("/api/v1/brands", {"name": "Nul\x00", "country": "FR"}, auth(op)),
    ]
    for path, body, headers in bodies:
        answer = await web.post(path, json=body, headers=headers)
        assert answer.status_code == 422, (path, answer.text)
    for path in ("/api/v1/orders/FP%00123", "/api/v1/admin/payments?order_no=a%00b", "/orders?x=%01"):
        answer = await web.get(path, headers=auth(op))
        assert answer.status_code == 422 and answer.json()["code"] == "invalid_characters", path


async def test_catalog_urls_prices_and_dates_stay_in_range(ctx: Context, web: httpx.AsyncClient) -> None:
    _, op = await make_user(ctx, Role.OPERATOR)
    for url in ("javascript:alert(1)", "http://img.example.com/a.png", "//evil.example/a.png"):
        answer = await web.post(
            "/api/v1/brands", json={"name": f"B {url}", "country": "FR", "logo_url": url}, headers=auth(op)
        )
        assert answer.status_code == 422, answer.text
    event = {"name": "Y1", "starts_at": "0001-01-01T00:00:00Z", "ends_at": "0001-01-08T00:00:00Z"}
    assert (await web.post("/api/v1/events", json=event, headers=auth(op))).status_code == 422


async def test_bodies_are_capped_per_route(web: httpx.AsyncClient) -> None:
    big_form = "a=" + "x" * (17 * 1024)
    notify = await web.post(
        "/api/v1/payments/alipay/notify",
        content=big_form,
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert notify.status_code == 413 and notify.json()["code"] == "payload_too_large"

    async def streamed() -> AsyncIterator[bytes]:
        for _ in range(80):
            yield b"x" * 1024

    login = await web.post("/api/v1/auth/login", content=streamed())  # no Content-Length
    assert login.status_code == 413


async def test_security_headers_on_pages_api_answers_and_docs_which_work_offline(
    web: httpx.AsyncClient,
) -> None:
    for path in ("/", "/api/v1/events", "/docs", "/openapi.json", "/api/v1/nothing-here"):
        answer = await web.get(path)
        assert "frame-ancestors 'none'" in answer.headers["content-security-policy"], path
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["x-frame-options"] == "DENY"
        assert answer.headers["referrer-policy"] == "same-origin"
    docs = (await web.get("/docs")).text
    assert "cdn" not in docs.lower() and "/docs-assets/swagger-ui-bundle.js" in docs
    assert (await web.get("/docs-assets/swagger-ui-bundle.js")).status_code == 200
    assert (await web.get("/docs-assets/flashport/init.js")).status_code == 200


async def test_registration_refuses_weak_passwords(web: httpx.AsyncClient) -> None:
    for password in ("password", "12345678", " " * 10, "qwertyuiop", "same@addr.cn"):
        body = {"email": "same@addr.cn", "password": password, "name": "W"}
        answer = await web.post("/api/v1/auth/register", json=body)
        assert answer.status_code == 422 and answer.json()["code"] == "weak_password", password


async def test_an_identity_key_rotation_keeps_numbers_readable_then_reseals_them(
    database_settings: Settings,
) -> None:
    old_key, new_key = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    base = database_settings.model_dump()

    async def context(**keys: str) -> Context:
        return await build_context(Settings(**{**base, **keys}), listen_for_restock=False)

    old = await context(identity_key=old_key)
    try:
        buyer_id, _ = await make_user(old, Role.BUYER)
        added = await add_identity(old, buyer_id, "李娜", "110105199003070025")
    finally:
        await close_context(old)
    rotating = await context(identity_key=new_key, previous_identity_keys=old_key)
    try:
        async with rotating.read() as conn:
            stored = await own_identity(conn, buyer_id, added.id)
        assert rotating.vault.open(stored.id_cipher) == "110105199003070025"  # the grace period
        counts = await reseal_everything(rotating)
        assert counts["identities.id_cipher"] >= 1
    finally:
        await close_context(rotating)
    after = await context(identity_key=new_key)
    try:
        async with after.read() as conn:
            stored = await own_identity(conn, buyer_id, added.id)
        assert after.vault.open(stored.id_cipher) == "110105199003070025"
    finally:
        await close_context(after)
