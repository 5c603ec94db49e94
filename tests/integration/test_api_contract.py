"""The API as a whole: every operation documents who may call it, and everyone else is turned away."""

from __future__ import annotations

import re

import httpx

from flashport.app import create_app
from flashport.domain.accounts import Role
from flashport.services.context import Context
from tests.factories import auth, make_supplier, make_user

METHODS = ("get", "post", "put", "patch", "delete")


def _operations() -> list[tuple[str, str, dict]]:  # type: ignore[type-arg]
    spec = create_app().openapi()
    return [
        (method, path, op)
        for path, item in spec["paths"].items()
        for method, op in item.items()
        if method in METHODS
    ]


def test_every_operation_states_its_roles_and_error_shape() -> None:
    operations = _operations()
    assert len(operations) > 30
    for method, path, op in operations:
        roles = op.get("x-roles")
        assert roles, f"{method.upper()} {path} does not say who may call it"
        assert set(roles) <= {"public", "partner", *(role.value for role in Role)}
        if roles != ["public"]:
            assert "401" in op["responses"] and "403" in op["responses"], f"{method} {path}"
        for status, response in op["responses"].items():
            if status.startswith(("4", "5")) and status != "422":
                schema = response["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/ErrorResponse"}, f"{method} {path} {status}"


async def test_callers_without_the_role_get_401_or_403_on_every_operation(
    client: httpx.AsyncClient, ctx: Context
) -> None:
    supplier_id = await make_supplier(ctx)
    tokens = {
        Role.BUYER: (await make_user(ctx, Role.BUYER))[1],
        Role.OPERATOR: (await make_user(ctx, Role.OPERATOR))[1],
        Role.SUPPLIER: (await make_user(ctx, Role.SUPPLIER, supplier_id))[1],
    }
    checked = 0
    for method, path, op in _operations():
        roles = set(op["x-roles"])
        if "public" in roles:
            continue
        url = re.sub(r"\{[^}]+\}", "1", path)
        anonymous = await client.request(method.upper(), url, json={})
        assert anonymous.status_code == 401, f"{method.upper()} {path} without a token"
        assert anonymous.json()["code"] in {"missing_token", "invalid_token"}
        for role, token in tokens.items():
            if role.value in roles:
                continue
            refused = await client.request(method.upper(), url, json={}, headers=auth(token))
            assert refused.status_code == 403, f"{method.upper()} {path} as {role.value}: {refused.text}"
            checked += 1
    assert checked > 20


async def test_unknown_routes_and_methods_answer_in_the_error_shape(client: httpx.AsyncClient) -> None:
    missing = await client.get("/api/v1/nothing-here")
    assert missing.status_code == 404
    assert missing.json()["code"] == "not_found"
    wrong = await client.delete("/api/v1/auth/login")
    assert wrong.status_code == 405
    assert wrong.json()["code"] == "method_not_allowed"


async def test_the_openapi_document_is_served(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    assert spec["info"]["title"] == "Flashport"
    assert "/api/v1/sale-items/{item_id}/buy" in spec["paths"]
    assert "ErrorResponse" in spec["components"]["schemas"]


def test_the_buy_operation_documents_its_body_its_required_key_and_who_may_call_it() -> None:
    spec = create_app().openapi()
    op = spec["paths"]["/api/v1/sale-items/{item_id}/buy"]["post"]
    params = {p["name"]: p for p in op["parameters"]}
    assert set(params) == {"item_id", "Idempotency-Key"}
    assert (params["item_id"]["in"], params["item_id"]["required"]) == ("path", True)
    assert params["item_id"]["schema"]["type"] == "integer"
    key = params["Idempotency-Key"]
    assert (key["in"], key["required"]) == ("header", True)
    assert (key["schema"]["type"], key["schema"]["maxLength"]) == ("string", 128)
    assert op["requestBody"]["required"] is True
    body = op["requestBody"]["content"]["application/json"]["schema"]
    assert body["type"] == "object"
    quantity = body["properties"]["quantity"]
    assert (quantity["type"], quantity["minimum"], quantity["default"]) == ("integer", 1, 1)
    assert op["x-roles"] == ["buyer"]
    assert op["security"] == [{"HTTPBearer": []}]
    assert spec["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    # A retry gets the first answer again (201), marked by a header: no 200 of its own.
    assert "201" in op["responses"] and "200" not in op["responses"]
    assert op["responses"]["201"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/OrderOut"
    }
    assert "Idempotent-Replayed" in op["responses"]["201"]["headers"]
