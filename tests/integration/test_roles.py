"""Roles that match the work (issue 16 point 3): every API operation and every console page is walked
with every role, and each answer agrees with the access table (domain/access.py): a role holding the
duty is let through (whatever the made-up ids then give: 404, 422...), any other is refused with 403
``forbidden_role``, and nobody without a session or token gets in."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute

from flashport.app import create_app
from flashport.domain.access import DUTIES, Duty, is_staff, roles_for
from flashport.domain.accounts import Role
from flashport.services.context import Context
from flashport.web import session as web_session
from flashport.web.console_guard import PAGES
from tests.factories import auth, make_supplier, make_user

METHODS = ("get", "post", "put", "patch", "delete")
USER_ROLES = tuple(Role)
CSRF = "roles-csrf"
# Made-up ids: large enough that no row of this test has them, so an allowed call changes nothing.
NO_SUCH_ID = "987654321"


def _url(path: str) -> str:
    return re.sub(r"\{[^}]+\}", NO_SUCH_ID, path)


def _forbidden_by_role(answer: httpx.Response) -> bool:
    """403 for the caller's role (the API's code, or the console pages' own)."""
    code = answer.json().get("code") if answer.status_code == 403 else None
    return code in ("forbidden_role", "not_your_section")


async def _people(ctx: Context) -> dict[Role, tuple[int, str]]:
    supplier_id = await make_supplier(ctx)
    return {
        role: await make_user(ctx, role, supplier_id if role is Role.SUPPLIER else None)
        for role in USER_ROLES
    }


@pytest.fixture
async def http(ctx: Context) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(ctx=ctx))
    # The console is read in English here (its second language; tests/integration/test_console_language.py
    # reads it in Chinese, its default).
    english = {"accept-language": "en"}
    async with httpx.AsyncClient(transport=transport, base_url="http://shop.test", headers=english) as client:
        yield client


def test_the_access_table_gives_each_role_the_work_the_issue_names() -> None:
    assert all(Role.OPERATOR in roles for duty, roles in DUTIES.items() if duty is not Duty.OWN_ACCOUNT)
    merchandiser = {duty for duty, roles in DUTIES.items() if Role.MERCHANDISER in roles}
    assert {Duty.CATALOG, Duty.EVENTS, Duty.LIVE_SALE} <= merchandiser
    assert not merchandiser & {Duty.REFUNDS, Duty.ORDERS}
    service = {duty for duty, roles in DUTIES.items() if Role.CUSTOMER_SERVICE in roles}
    assert {Duty.ORDERS, Duty.REFUNDS} <= service
    assert not service & {Duty.CATALOG, Duty.EVENTS, Duty.OWN_CATALOG}
    assert {duty for duty, roles in DUTIES.items() if Role.SUPPLIER in roles} == {
        Duty.OWN_CATALOG,
        Duty.OWN_SALES,
        Duty.OWN_ACCOUNT,
    }


async def test_every_api_operation_lets_in_exactly_the_roles_it_states(
    ctx: Context, http: httpx.AsyncClient
) -> None:
    spec = (await http.get("/openapi.json")).json()
    people = await _people(ctx)
    operations = [
        (method, path, op)
        for path, item in spec["paths"].items()
        for method, op in item.items()
        if method in METHODS
    ]
    # Log-out ends the caller's session: it goes last, so the other calls keep their tokens.
    operations.sort(key=lambda found: found[1].endswith("/logout"))
    walked = 0
    for method, path, op in operations:
        stated = set(op["x-roles"])
        assert op["description"].startswith("**Roles:**"), f"{method} {path} does not say its roles"
        if "public" in stated:
            continue
        for role, (_, token) in people.items():
            answer = await http.request(method.upper(), _url(path), json={}, headers=auth(token))
            where = f"{method.upper()} {path} as {role.value}: {answer.status_code} {answer.text[:200]}"
            if "partner" in stated:  # a partner system's key, never a person's token
                assert answer.status_code in (401, 403), where
            elif role.value in stated:
                assert answer.status_code != 401 and not _forbidden_by_role(answer), where
            else:
                assert _forbidden_by_role(answer), where
            walked += 1
    assert walked > 400


def _api_routes(routes: list[Any]) -> list[APIRoute]:
    """Every route, those of included routers too (FastAPI keeps an included router whole)."""
    found: list[APIRoute] = []
    for route in routes:
        if isinstance(route, APIRoute):
            found.append(route)
        elif hasattr(route, "original_router"):
            found.extend(_api_routes(route.original_router.routes))
    return found


def _console_routes() -> list[tuple[str, str]]:
    return [
        (method, route.path)
        for route in _api_routes(create_app().routes)
        if route.path.startswith(("/operator", "/supplier"))
        for method in sorted(route.methods)
    ]


def test_every_console_page_is_in_the_access_table() -> None:
    paths = {path for _, path in _console_routes()}
    assert paths == set(PAGES)


async def test_every_console_page_lets_in_exactly_the_roles_that_hold_its_duty(
    ctx: Context, http: httpx.AsyncClient
) -> None:
    people = await _people(ctx)
    walked = 0
    for method, path in _console_routes():
        duty = PAGES[path]
        http.cookies.clear()
        anonymous = await http.request(method, _url(path), headers={"accept": "application/json"})
        assert anonymous.status_code in (401, 403), f"{method} {path} without a session"
        for role, (user_id, _) in people.items():
            data = {"uid": user_id, "role": role.value, "name": f"Test {role.value}", "csrf": CSRF}
            cookie = web_session.encode(data, ctx.settings.keys.secret, 3600)
            http.cookies.set(web_session.COOKIE, cookie, domain="shop.test")
            answer = await http.request(
                method,
                _url(path),
                data={"csrf_token": CSRF} if method == "POST" else None,
                headers={"accept": "application/json"},
            )
            allowed = is_staff(role) if duty is None else role in roles_for(duty)
            where = f"{method} {path} as {role.value}: {answer.status_code} {answer.text[:200]}"
            if allowed:
                assert answer.status_code < 500 and not _forbidden_by_role(answer), where
                assert answer.status_code != 401, where
            else:
                assert _forbidden_by_role(answer), where
            walked += 1
    assert walked >= len(PAGES) * len(USER_ROLES)


async def test_the_console_shows_each_role_only_its_own_sections(
    ctx: Context, http: httpx.AsyncClient
) -> None:
    people = await _people(ctx)
    seen: dict[Role, set[str]] = {}
    for role in (Role.OPERATOR, Role.MERCHANDISER, Role.CUSTOMER_SERVICE):
        user_id, _ = people[role]
        data = {"uid": user_id, "role": role.value, "name": "Staff", "csrf": CSRF}
        http.cookies.set(
            web_session.COOKIE, web_session.encode(data, ctx.settings.keys.secret, 3600), domain="shop.test"
        )
        page = await http.get("/operator")
        assert page.status_code == 200
        seen[role] = set(re.findall(r'data-section="([^"]+)"', page.text))
    assert "/operator/board" in seen[Role.MERCHANDISER] and "/operator/orders" not in seen[Role.MERCHANDISER]
    assert (
        "/operator/orders" in seen[Role.CUSTOMER_SERVICE]
        and "/operator/board" not in seen[Role.CUSTOMER_SERVICE]
    )
    assert seen[Role.OPERATOR] >= seen[Role.MERCHANDISER] | seen[Role.CUSTOMER_SERVICE]
