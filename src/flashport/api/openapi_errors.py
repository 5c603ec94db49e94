"""The answers every operation can give, written into OpenAPI once instead of on each route.

Any operation with a request body answers 400 ``bad_request`` to a body that is not JSON (or not the form it
declares) and 413 ``payload_too_large`` to one over its route's cap; any operation answers 422 to a control
character in its path or query (``invalid_characters``) or to a parameter out of range. Clients (and the
Schemathesis run in tests/integration/test_api_fuzz.py) read these from the schema like any other answer.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

ERROR = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}}
WITH_BODY = {
    "400": "Malformed body: not JSON, or not the declared form (`bad_request`)",
    "413": "Body over this operation's cap (`payload_too_large`)",
}
ALWAYS = {"422": "Invalid input, or a control character in the path or query (`invalid_characters`)"}
METHODS = ("get", "put", "post", "delete", "patch")


def install(app: FastAPI) -> None:
    """Wrap ``app.openapi`` so the schema it builds (once, then cached) carries the common answers."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        schema = build()
        for path_item in schema.get("paths", {}).values():
            for method in METHODS:
                if method in path_item:
                    _add_common_answers(path_item[method])
        return schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to extend OpenAPI


def _add_common_answers(operation: dict[str, Any]) -> None:
    responses = operation.setdefault("responses", {})
    common = ALWAYS | (WITH_BODY if "requestBody" in operation else {})
    for status, description in common.items():
        responses.setdefault(status, {"description": description, "content": ERROR})
