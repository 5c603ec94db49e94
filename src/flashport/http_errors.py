"""The one place where a domain error becomes an HTTP answer, for every door into Flashport: the JSON
API (``api/errors.py``), the buy lanes (``api/buy/``) and the storefront (``web/errors.py``).

It knows HTTP only as numbers and strings (a status, a code, a message, header pairs), never a web
framework, so each door renders the same decision its own way: the API and the buy lanes as the JSON
error body ``{"code", "message", "details": [{"field", "message"}]}``, the storefront as a page.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from flashport.domain.errors import (
    Conflict,
    DomainError,
    FieldProblem,
    Forbidden,
    InProgress,
    InvalidInput,
    NotFound,
    RateLimited,
    ServiceUnavailable,
    Unauthenticated,
)

# Checked in order, so a subclass listed before its base would win; none of these inherit from another.
STATUS_BY_ERROR: tuple[tuple[type[DomainError], int], ...] = (
    (InvalidInput, 422),
    (NotFound, 404),
    (Conflict, 409),
    (Unauthenticated, 401),
    (Forbidden, 403),
    (RateLimited, 429),
    (ServiceUnavailable, 503),
)
OTHER_DOMAIN_ERROR = 400  # a DomainError subclass not listed above: the caller's fault, nothing more known

# Codes for failures that happen before any domain rule is asked (no route, wrong method, bad framing).
HTTP_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


@dataclass(frozen=True, slots=True)
class ErrorAnswer:
    """What to answer for one refused request. Header names are lower case, as HTTP/1.1 servers in
    Python write them."""

    status: int
    code: str
    message: str
    details: tuple[FieldProblem, ...] = ()
    headers: tuple[tuple[str, str], ...] = ()

    def body(self) -> dict[str, Any]:
        """The JSON error body every API answer uses."""
        return error_body(self.code, self.message, self.details)


def error_body(code: str, message: str, details: Sequence[FieldProblem] = ()) -> dict[str, Any]:
    return {
        "code": code,
        "message": message,
        "details": [{"field": d.field, "message": d.message} for d in details],
    }


def status_for(exc: DomainError) -> int:
    for cls, status in STATUS_BY_ERROR:
        if isinstance(exc, cls):
            return status
    return OTHER_DOMAIN_ERROR


def answer_for(exc: DomainError) -> ErrorAnswer:
    """The status, body and headers for a domain error: a bearer challenge with a 401 (RFC 6750) and
    ``Retry-After`` with a 429, a 503 and a 409 for a request still in progress, so a client knows when
    to try again."""
    headers: tuple[tuple[str, str], ...] = ()
    if isinstance(exc, Unauthenticated):
        headers = (("www-authenticate", "Bearer"),)
    elif isinstance(exc, RateLimited | ServiceUnavailable | InProgress):
        headers = (("retry-after", str(exc.retry_after)),)
    return ErrorAnswer(status_for(exc), exc.code, exc.message, tuple(exc.details), headers)


DEPENDENCY_DOWN = ServiceUnavailable(
    "a service this request needs is briefly unavailable; nothing was changed, please retry",
    code="dependency_unavailable",
)


def dependency_down_answer() -> ErrorAnswer:
    """503 ``dependency_unavailable`` with ``Retry-After``: for a driver error that says the database,
    Redis or the disk failed (``adapters/failures.py`` tells which), in every door."""
    return answer_for(DEPENDENCY_DOWN)
