"""The buyer's return of a delivered parcel, asked from the order page's tracking panel."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from flashport.domain.errors import DomainError
from flashport.services.aftersales import returns
from flashport.web import answers, guard, i18n, messages
from flashport.web.errors import WebRoute
from flashport.web.i18n import tr
from flashport.web.state import service_context

router = APIRouter(route_class=WebRoute, include_in_schema=False)


@router.post("/orders/{order_no}/return")
async def ask_return(request: Request, order_no: str) -> Response:
    session = answers.load_session(request)
    form = await guard.posted_form(request, session)
    buyer_id = guard.buyer(session)
    order_no = order_no[:32]
    reason = str(form.get("reason") or "")
    try:
        await returns.request_return(service_context(request), buyer_id, order_no, reason)
    except DomainError as exc:
        session.flash("error", messages.error_text(i18n.request_language(request), exc))
    else:
        session.flash("success", tr(request, "Return requested. We will tell you when it is approved."))
    return answers.redirect(request, session, f"/orders/{quote(order_no, safe='')}#tracking")
