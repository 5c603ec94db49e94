"""The API's exception handlers: one JSON error shape for every failure,

{"code": "sold_out", "message": "this item is sold out", "details": [{"field": ..., "message": ...}]}

Which status and headers a domain error gets is decided in :mod:`flashport.http_errors`, shared with the
buy lanes and the storefront; this module renders that decision with FastAPI and documents it in OpenAPI.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException

from flashport.adapters.failures import DEPENDENCY_ERRORS, dependency_down
from flashport.api.inputs import INVALID_CHARACTERS
from flashport.domain.errors import DomainError, FieldProblem
from flashport.http_errors import HTTP_CODES, answer_for, dependency_down_answer, error_body

log = logging.getLogger(__name__)


class ErrorDetail(BaseModel):
    field: str
    message: str


class ErrorResponse(BaseModel):
    code: str
    message: str
    details: list[ErrorDetail] = []


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` for the error statuses an endpoint can return."""
    descriptions = {
        400: "Malformed request",
        401: "Missing or invalid token",
        403: "Role not allowed",
        404: "Unknown id",
        409: "Conflicts with the current state",
        422: "Invalid input",
        429: "Too many requests",
        503: "A dependency is down",
    }
    return {s: {"model": ErrorResponse, "description": descriptions.get(s, "Error")} for s in statuses}


async def _domain_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    answer = answer_for(exc)
    return JSONResponse(answer.body(), status_code=answer.status, headers=dict(answer.headers))


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    details = [
        FieldProblem(".".join(str(p) for p in err["loc"] if p != "body") or "body", err["msg"])
        for err in errors
    ]
    if errors and all(err["type"] == INVALID_CHARACTERS for err in errors):
        # The same code the entry checks give: a text no document or page could carry safely.
        message = "a text holds a control or bidi character, which is not allowed"
        return JSONResponse(error_body(INVALID_CHARACTERS, message, details), status_code=422)
    return JSONResponse(
        error_body("validation_error", "the request has invalid fields", details), status_code=422
    )


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = HTTP_CODES.get(exc.status_code, "http_error")
    message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
    return JSONResponse(error_body(code, message), status_code=exc.status_code, headers=exc.headers)


async def _integrity_error(_request: Request, exc: Exception) -> JSONResponse:
    # A constraint the services did not pre-check (a race between two requests). The transaction was
    # rolled back, so nothing is half-written; say so plainly without leaking SQL.
    log.warning("integrity error: %s", exc)
    return JSONResponse(
        error_body("constraint_violation", "the change conflicts with existing data; nothing was saved"),
        status_code=409,
    )


async def _dependency_error(_request: Request, exc: Exception) -> JSONResponse:
    """The database, Redis or the disk failed under this request: fail closed with 503 and
    ``Retry-After`` (the transaction rolled back). Any other exception stays a 500."""
    if not dependency_down(exc):
        raise exc
    log.warning("dependency down: %s: %s", type(exc).__name__, exc)
    answer = dependency_down_answer()
    return JSONResponse(answer.body(), status_code=answer.status, headers=dict(answer.headers))


def install(app: FastAPI) -> None:
    for error in DEPENDENCY_ERRORS:
        app.add_exception_handler(error, _dependency_error)
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(IntegrityError, _integrity_error)
