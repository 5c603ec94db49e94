"""Why the sandbox carrier refuses a request. Each carries a stable ``code`` for the platform to act
on and a readable ``message``; the HTTP layer maps the classes to status codes in one place."""

from __future__ import annotations


class LogisticsRefusal(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class Unauthorized(LogisticsRefusal):
    """No ``Authorization: Bearer`` header with the platform's key."""


class InvalidRequest(LogisticsRefusal):
    """The body is not what the API asks for."""


class WaybillNotFound(LogisticsRefusal):
    def __init__(self, logistics_no: str) -> None:
        super().__init__("waybill_not_found", f"no waybill {logistics_no}")


class WaybillConflict(LogisticsRefusal):
    """The waybill's state does not allow the request (cancelled, already in transit...)."""
