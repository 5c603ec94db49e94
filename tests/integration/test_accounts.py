from __future__ import annotations

import httpx

from flashport.domain.accounts import Role
from tests.factories import auth, make_supplier, make_user


async def test_buyer_registers_logs_in_and_sees_itself(client: httpx.AsyncClient) -> None:
    created = await client.post(
        "/api/v1/auth/register",
        json={"email": "Li.Na@Example.com", "password": "s3cret-pass", "name": "Li Na"},
    )
    assert created.status_code == 202, created.text
    assert created.json()["email"] == "li.na@example.com"

    login = await client.post(
        "/api/v1/auth/login", json={"email": "li.na@example.com", "password": "s3cret-pass"}
    )
    assert login.status_code == 200
    me = await client.get("/api/v1/me", headers=auth(login.json()["access_token"]))
    assert me.status_code == 200
    assert me.json()["name"] == "Li Na"


async def test_password_is_stored_as_argon2id_hash(client: httpx.AsyncClient, ctx) -> None:
    import sqlalchemy as sa

    from flashport.adapters.db.schema import users

    await client.post(
        "/api/v1/auth/register", json={"email": "a@b.cn", "password": "tangerine-orbit-1", "name": "A"}
    )
    async with ctx.read() as conn:
        stored = await conn.scalar(sa.select(users.c.password_hash).where(users.c.email == "a@b.cn"))
    assert stored.startswith("$argon2id$")
    assert "tangerine-orbit-1" not in stored


async def test_wrong_password_and_unknown_email_get_the_same_401(client: httpx.AsyncClient) -> None:
    await client.post(
        "/api/v1/auth/register", json={"email": "x@y.cn", "password": "tangerine-orbit-1", "name": "X"}
    )
    wrong = await client.post("/api/v1/auth/login", json={"email": "x@y.cn", "password": "tangerine-orbit-2"})
    unknown = await client.post(
        "/api/v1/auth/login", json={"email": "nobody@y.cn", "password": "tangerine-orbit-1"}
    )
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json()["code"] == unknown.json()["code"] == "bad_credentials"


async def test_registering_a_taken_email_answers_the_same_and_mails_the_owner(
    client: httpx.AsyncClient, ctx
) -> None:
    import sqlalchemy as sa

    from flashport.adapters.db.schema import outbox, users

    body = {"email": "dup@y.cn", "password": "tangerine-orbit-1", "name": "D"}
    first = await client.post("/api/v1/auth/register", json=body)
    again = await client.post("/api/v1/auth/register", json={**body, "password": "other-pass-77"})
    assert first.status_code == again.status_code == 202
    assert first.json() == again.json()  # nothing tells whether the address had an account
    async with ctx.read() as conn:
        accounts = await conn.scalar(sa.select(sa.func.count()).where(users.c.email == "dup@y.cn"))
        mails = (
            await conn.execute(sa.select(outbox.c.payload).where(outbox.c.type == "mail.requested"))
        ).all()
    assert accounts == 1
    templates = [row.payload["template"] for row in mails if row.payload["to"] == "dup@y.cn"]
    assert templates == ["account.created", "account.registration_attempt"]
    login = await client.post(
        "/api/v1/auth/login", json={"email": "dup@y.cn", "password": "tangerine-orbit-1"}
    )
    assert login.status_code == 200  # the first password stands


async def test_bad_registration_input_names_the_field(client: httpx.AsyncClient) -> None:
    short = await client.post(
        "/api/v1/auth/register", json={"email": "s@y.cn", "password": "short", "name": "S"}
    )
    assert short.status_code == 422
    assert short.json()["details"][0]["field"] == "password"
    wrong_type = await client.post("/api/v1/auth/register", json={"email": 5, "password": [], "name": "S"})
    assert wrong_type.status_code == 422
    assert wrong_type.json()["code"] == "validation_error"
    assert {d["field"] for d in wrong_type.json()["details"]} == {"email", "password"}


async def test_tampered_or_missing_token_is_401(client: httpx.AsyncClient, ctx) -> None:
    _, token = await make_user(ctx, Role.BUYER)
    assert (await client.get("/api/v1/me")).status_code == 401
    tampered = await client.get(
        "/api/v1/me", headers=auth(token[:-2] + ("AA" if token[-2:] != "AA" else "BB"))
    )
    assert tampered.status_code == 401
    assert tampered.json()["code"] == "invalid_token"


async def test_operator_creates_a_supplier_user_who_can_log_in(client: httpx.AsyncClient, ctx) -> None:
    _, op = await make_user(ctx, Role.OPERATOR)
    supplier_id = await make_supplier(ctx)
    made = await client.post(
        "/api/v1/users",
        headers=auth(op),
        json={
            "email": "sup@brand.fr",
            "password": "tangerine-orbit-9",
            "name": "Sup",
            "role": "supplier",
            "supplier_id": supplier_id,
        },
    )
    assert made.status_code == 201, made.text
    login = await client.post(
        "/api/v1/auth/login", json={"email": "sup@brand.fr", "password": "tangerine-orbit-9"}
    )
    assert login.json()["role"] == "supplier"
    unlinked = await client.post(
        "/api/v1/users",
        headers=auth(op),
        json={"email": "sup2@brand.fr", "password": "tangerine-orbit-9", "name": "Sup", "role": "supplier"},
    )
    assert unlinked.status_code == 422
