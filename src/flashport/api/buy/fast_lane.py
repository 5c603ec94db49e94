"""The buy endpoint's fast lane: a plain ASGI middleware that answers
``POST /api/v1/sale-items/{id}/buy`` before FastAPI's router, dependency solver and response
validation run.

Why: measured in-process on this 2-core machine, FastAPI's per-request machinery (middleware stack,
matching ~50 routes, solving dependencies, validating the response model) cost more CPU than the
purchase itself. The FastAPI route in ``routes/orders.py`` stays the documented contract (OpenAPI);
all three lanes (the edge, this one, the route) answer through :func:`answer.answer_purchase`, and the
buy-path tests run against each (``FLASHPORT_BUY_FAST_LANE``).
"""

from __future__ import annotations

import re
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from flashport.api.buy.answer import answer_purchase
from flashport.api.buy.asgi import buy_headers, read_body, send_answer
from flashport.api.observability import BUY_ROUTE, ROUTE_KEY

# Any one path segment: what it must hold is request.py's to say, so that every lane refuses a bad id
# alike (the FastAPI route's ``{item_id}`` matches the same segments).
BUY_PATH = re.compile(r"^/api/v1/sale-items/([^/]+)/buy$")


class BuyFastLane:
    def __init__(self, app: ASGIApp, owner: Any) -> None:
        self.app = app
        self._owner = owner  # the FastAPI app, whose state holds the service context

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            match = BUY_PATH.match(scope["path"])
            if match is not None:
                scope[ROUTE_KEY] = BUY_ROUTE  # no router sees it: its metrics label, set by hand
                authorization, key = buy_headers(scope["headers"])
                body, too_large = await read_body(receive)
                client = scope.get("client")
                answer = await answer_purchase(
                    self._owner.state.ctx,
                    match.group(1),
                    authorization,
                    key,
                    body,
                    too_large,
                    client[0] if client else None,
                )
                await send_answer(send, answer)
                return
        await self.app(scope, receive, send)
