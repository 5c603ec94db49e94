"""The storefront's waiting room (issue 19): the queue page of a hot item, the join form (with the
proof-of-work answer the page's script finds when the join looks automated) and the small JSON status
the page polls (ETag, 304 when nothing changed). Once admitted, the page links to the item page with
the admission token, whose buy form then carries it."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from flashport.api.rate_limited import address_of
from flashport.api.routes.waiting_room import status_answer
from flashport.domain.errors import DomainError
from flashport.services.waiting_room import queue
from flashport.web import answers, guard
from flashport.web.errors import WebRoute
from flashport.web.guard import Id
from flashport.web.state import service_context

router = APIRouter(route_class=WebRoute, include_in_schema=False)


@router.get("/items/{item_id:int}/queue")
async def queue_page(request: Request, item_id: Id) -> Response:
    session = answers.load_session(request)
    if not session.is_buyer:
        return answers.redirect(request, session, answers.login_url(f"/items/{item_id}/queue"))
    ctx = service_context(request)
    try:
        found = await queue.status(ctx, session.user_id or 0, item_id)
    except DomainError as exc:
        return answers.refusal(request, session, exc, f"/items/{item_id}")
    return answers.page(request, session, "queue.html", item_id=item_id, queue=found)


@router.post("/items/{item_id:int}/queue")
async def join(request: Request, item_id: Id) -> Response:
    session = answers.load_session(request)
    form = await guard.posted_form(request, session)
    buyer_id = guard.buyer(session)
    ctx = service_context(request)
    challenge, solution = form.get("challenge"), form.get("solution")
    try:
        found = await queue.join(
            ctx,
            buyer_id,
            item_id,
            address_of(request),
            str(challenge) if challenge else None,
            str(solution) if solution else None,
        )
    except DomainError as exc:
        return answers.refusal(request, session, exc, f"/items/{item_id}/queue")
    if found.state is queue.QueueState.CHALLENGE:
        return answers.page(request, session, "queue.html", item_id=item_id, queue=found)
    return answers.redirect(request, session, f"/items/{item_id}/queue")


@router.get("/items/{item_id:int}/queue/status")
async def status(request: Request, item_id: Id) -> Response:
    session = answers.load_session(request)
    buyer_id = guard.buyer(session)
    return status_answer(request, await queue.status(service_context(request), buyer_id, item_id))
