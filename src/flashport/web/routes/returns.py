"""After-sales asked from the order page: the return of a delivered parcel (its tracking panel) and the
cancellation of a paid order customs has not released (its "Cancel this order" panel, confirmed
before it is sent)."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from flashport.domain.errors import DomainError
from flashport.services.aftersales import cancellation, returns
from flashport.web import answers, guard, i18n, messages
from flashport.web.errors import WebRoute
from flashport.web.i18n import N_, tr
from flashport.web.state import service_context

router = APIRouter(route_class=WebRoute, include_in_schema=False)

# The refusals of a paid order's cancellation, in the reader's language.
messages.BY_CODE.update(
    {
        "already_released": N_(
            "Customs has released this parcel, so it can no longer be cancelled: "
            "once it is delivered you can ask to return it."
        ),
        "already_cancelled": N_("This order is cancelled and refunded already."),
        "cancellation_pending": N_("You already asked to cancel this order: customs is answering."),
        "cancel_needs_customs": N_(
            "This order is held at customs and cannot be cancelled here: please contact customer service."
        ),
        "not_paid": N_("This order is not paid."),
    }
)


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


@router.post("/orders/{order_no}/cancellation")
async def cancel_paid(request: Request, order_no: str) -> Response:
    session = answers.load_session(request)
    await guard.posted_form(request, session)
    buyer_id = guard.buyer(session)
    order_no = order_no[:32]
    try:
        view = await cancellation.cancel_before_release(service_context(request), buyer_id, order_no)
    except DomainError as exc:
        session.flash("error", messages.error_text(i18n.request_language(request), exc))
        return answers.redirect(request, session, f"/orders/{quote(order_no, safe='')}")
    if view.state == cancellation.REFUNDED:
        note = tr(request, "Order %(number)s is cancelled; your payment is refunded in full.")
    else:
        note = tr(
            request,
            "Cancellation of order %(number)s requested: we asked customs to withdraw the declaration, "
            "and your payment is refunded once customs agrees.",
        )
    session.flash("success", note % {"number": order_no})
    return answers.redirect(request, session, f"/orders/{quote(order_no, safe='')}")
