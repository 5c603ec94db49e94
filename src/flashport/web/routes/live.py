"""Small JSON answers that open pages poll: units left per item, and a buyer's order statuses.

Why polling rather than server-sent events: each poll is answered from a per-process snapshot (at most
one stock-engine read per event per 0.5 s), holds no connection open between polls, and passes through
any load balancer or proxy unchanged. Hundreds of pages polling every two seconds cost a few hundred
tiny requests a second and a couple of stock reads, where SSE would pin one connection per page.
"""

from __future__ import annotations

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from flashport.services.orders import storefront as order_progress
from flashport.web import answers, guard, showcase
from flashport.web.errors import WebRoute
from flashport.web.formatting import iso_ms
from flashport.web.guard import Id
from flashport.web.state import service_context, storefront

router = APIRouter(prefix="/live", route_class=WebRoute, include_in_schema=False)


@router.get("/events/{event_id:int}")
async def event_counts(request: Request, event_id: Id) -> Response:
    ctx = service_context(request)
    counts = await showcase.live_counts(ctx, storefront(request), event_id)
    payload = {"server_time": iso_ms(ctx.clock()), **counts}
    return answers.data(request, answers.load_session(request), payload)


@router.get("/orders")
async def order_statuses(request: Request) -> Response:
    session = answers.load_session(request)
    ctx = service_context(request)
    found = await order_progress.order_statuses(ctx, guard.logged_in(session))
    orders = [
        {"order_no": o.order_no, "status": o.status.value, "payment_pending": o.payment_pending}
        for o in found
    ]
    return answers.data(request, session, {"server_time": iso_ms(ctx.clock()), "orders": orders})
