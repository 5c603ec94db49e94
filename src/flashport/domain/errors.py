"""Domain errors. Each carries a machine-readable ``code``; the class is mapped to an HTTP status in
one place (``flashport.http_errors``), so services and the domain never speak HTTP."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class FieldProblem:
    """One field's problem: ``message`` for humans (English), ``code`` the check that found it when it
    differs from its error's (a form of several problems), so a page can say it in its own words."""

    field: str
    message: str
    code: str = ""


class DomainError(Exception):
    """Base of every error a caller can cause. ``code`` is stable API; ``message`` is for humans;
    ``facts`` are the figures and names the message states (a limit, a count, a state's code), so a page
    can say the same in another language from the code without reading the English."""

    code = "domain_error"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        details: list[FieldProblem] | None = None,
        facts: dict[str, object] | None = None,
    ):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details: list[FieldProblem] = details or []
        self.facts: dict[str, object] = facts or {}


class InvalidInput(DomainError):
    """The request is well-formed but breaks a rule (422)."""

    code = "invalid_input"


class NotFound(DomainError):
    code = "not_found"


class Conflict(DomainError):
    """The request clashes with the current state (409): sold out, not live, stock too low."""

    code = "conflict"


class InProgress(Conflict):
    """An earlier request with the same idempotency key is still being decided (409 with ``Retry-After``):
    the client asks again, with the same key, after that many seconds."""

    retry_after = 1


class Unauthenticated(DomainError):
    code = "unauthenticated"


class Forbidden(DomainError):
    code = "forbidden"


class RateLimited(DomainError):
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: int = 1, code: str | None = None):
        super().__init__(message, code=code)
        self.retry_after = retry_after


class ServiceUnavailable(DomainError):
    """A dependency needed to decide safely is down; we fail closed (503), saying when to try again
    (``retry_after`` seconds: a dependency back within a second or two is the common case)."""

    code = "service_unavailable"
    retry_after = 1


@dataclass
class ErrorBody:
    code: str
    message: str
    details: list[FieldProblem] = field(default_factory=list)
