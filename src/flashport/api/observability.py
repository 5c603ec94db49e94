"""Request ids and request metrics, as one pure ASGI middleware (no per-request Starlette objects).

Each request gets an id: the caller's ``X-Request-ID`` when it is a plain token of at most 64 characters
(a proxy's or a partner's, so one id follows the request through both logs), else a new one. It is set for
the logs (adapters/log_context.py) and sent back as ``X-Request-ID``. Every answer is counted and timed
under its route's template (``/api/v1/orders/{order_no}``, never the raw path: the label set stays small),
``unmatched`` when no route took it. The buy edge answers its purchases itself and counts them the same way.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Any

from flashport.adapters import metrics
from flashport.adapters.log_context import request_id

HEADER = b"x-request-id"
ROUTE_KEY = "flashport.route"
BUY_ROUTE = "/api/v1/sale-items/{item_id}/buy"  # the buy route's label, for the lanes that bypass routing
ACCEPTED_ID = re.compile(rb"^[A-Za-z0-9._:-]{1,64}$")
log = logging.getLogger("flashport.http")


def new_request_id() -> str:
    return uuid.uuid4().hex


def route_of(scope: dict[str, Any]) -> str:
    if ROUTE_KEY in scope:  # set by a lane that answers without the router (api/buy/fast_lane.py)
        return str(scope[ROUTE_KEY])
    route = scope.get("route")
    return str(getattr(route, "path", None) or "unmatched")


class Observed:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = next((value for name, value in scope["headers"] if name == HEADER), None)
        rid = given.decode() if given is not None and ACCEPTED_ID.match(given) else new_request_id()
        token = request_id.set(rid)
        started = time.perf_counter()
        status = 500  # if the app raises before it answers, the server answers 500

        async def send_with_id(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), (HEADER, rid.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            seconds = time.perf_counter() - started
            metrics.observe_request(route_of(scope), scope["method"], status, seconds)
            if status >= 500:
                log.warning(
                    "%s %s answered %d", scope["method"], scope["path"], status, extra={"seconds": seconds}
                )
            else:  # the access log, at debug: a line per request is too much during a rush
                log.debug(
                    "%s %s answered %d", scope["method"], scope["path"], status, extra={"seconds": seconds}
                )
            request_id.reset(token)
