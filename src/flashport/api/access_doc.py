"""The roles of each operation, stated in words at the head of its OpenAPI description as well as in
``x-roles``, so a reader of /docs sees who may call it without opening the raw document. The roles come
from the access table (domain/access.py) through each route's ``duty_doc``/``roles_doc``."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

METHODS = ("get", "post", "put", "patch", "delete")
WHO = {
    "public": "anyone, no token needed",
    "partner": "partner systems, with their API key",
    "customer_service": "customer service",
}


def roles_sentence(roles: list[str]) -> str:
    return "**Roles:** " + ", ".join(WHO.get(role, role) for role in roles) + "."


def state_roles(spec: dict[str, Any]) -> dict[str, Any]:
    """Put the roles sentence first in every operation's description (once)."""
    for item in spec.get("paths", {}).values():
        for method, operation in item.items():
            roles = operation.get("x-roles") if method in METHODS else None
            if not roles:
                continue
            sentence = roles_sentence(roles)
            description = operation.get("description", "")
            if not description.startswith(sentence):
                operation["description"] = f"{sentence}\n\n{description}".rstrip()
    return spec


def install(app: FastAPI) -> None:
    """Wrap the app's OpenAPI builder (FastAPI caches the result, so this runs once)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        app.openapi_schema = state_roles(build())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
