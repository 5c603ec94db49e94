"""Structured logs: one JSON object a line, each carrying the id of the request it was written for.

The API's middleware (api/observability.py) sets :data:`request_id` for the length of a request; a filter
copies it onto every record, so a line logged deep in a service names its request without being passed it.
"""

from __future__ import annotations

import contextvars
import logging
import sys

from pythonjsonlogger.json import JsonFormatter

request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
FIELDS = "{asctime}{levelname}{name}{message}{request_id}"


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        return True


def configure(level: str, fmt: str, *, force: bool = False) -> None:
    """Root logging for a process: JSON lines (``fmt == "json"``) or plain text, both with the request id."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RequestIdFilter())
    if fmt == "json":
        handler.setFormatter(
            JsonFormatter(
                FIELDS,
                style="{",
                rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
                timestamp=False,
            )
        )
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(request_id)s]: %(message)s")
        )
    # Without ``force``, a no-op where logging is already set up (a test runner's capture, say).
    logging.basicConfig(level=level.upper(), handlers=[handler], force=force)
