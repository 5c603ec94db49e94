"""The basket on the storefront: "Add to basket" on an item page, the basket page with its timer, and
taking a unit out. Plain forms (no script needed); every action goes through the basket service."""

from __future__ import annotations

import uuid

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from flashport.api.rate_limited import address_of
from flashport.domain.errors import DomainError
from flashport.domain.rate_limits import Action
from flashport.services.orders import basket, basket_checkout
from flashport.web import answers, guard, i18n
from flashport.web.errors import WebRoute
from flashport.web.guard import Id
from flashport.web.i18n import N_, tr
from flashport.web.session import WebSession
from flashport.web.state import service_context

router = APIRouter(route_class=WebRoute, include_in_schema=False)

# What the basket's own refusals say (the generic sentences speak of single orders).
BASKET_TEXT = {
    "basket_other_warehouse": N_(
        "This item ships from another warehouse than the items in your basket. Buy it on its own, or "
        "remove the items in your basket first."
    ),
    "single_transaction_limit": N_(
        "One more unit would take your basket over the cross-border limit for one order."
    ),
    "basket_unit_not_found": N_("This unit is no longer in your basket."),
    "basket_empty": N_("Your basket has nothing left to check out: its time ran out or it is empty."),
}


@router.get("/basket")
async def show_basket(request: Request) -> Response:
    session = answers.load_session(request)
    held = await basket.view(service_context(request), guard.buyer(session))
    # One key per showing of the page: pressing "Check out" twice (or a resent form) makes one order.
    return answers.page(request, session, "basket.html", basket=held, checkout_key=str(uuid.uuid4()))


@router.post("/basket/checkout")
async def check_out_basket(request: Request) -> Response:
    """Fold the basket into one order, then on to that order's page to check out and pay it."""
    session = answers.load_session(request)
    form = await guard.posted_form(request, session)
    buyer_id = guard.buyer(session)
    key = str(form.get("idempotency_key", ""))[:128] or None
    try:
        done = await basket_checkout.check_out_basket(service_context(request), buyer_id, key)
    except DomainError as exc:
        return _refusal(request, session, exc, "/basket")
    done_text = tr(
        request, "Your basket is now order %(number)s: one payment, one parcel. Check out and pay it in time."
    )
    session.flash("success", done_text % {"number": done.order.order_no})
    return answers.redirect(request, session, f"/orders/{done.order.order_no}#checkout")


@router.post("/items/{item_id:int}/basket")
async def add_to_basket(request: Request, item_id: Id) -> Response:
    session = answers.load_session(request)
    form = await guard.posted_form(request, session)
    buyer_id = guard.buyer(session)
    ctx = service_context(request)
    try:
        await ctx.limits.check(Action.BUY, ctx.clock(), account=buyer_id, address=address_of(request))
        admission = str(form.get("admission", ""))[:256] or None  # a hot item's token, from its queue
        await basket.add(ctx, buyer_id, item_id, str(form.get("idempotency_key", "")) or None, admission)
    except DomainError as exc:
        return _refusal(request, session, exc, f"/items/{item_id}")
    session.flash(
        "success", tr(request, "In your basket: the unit is reserved for you until the basket's timer ends.")
    )
    return answers.redirect(request, session, "/basket")


@router.post("/basket/{order_no}/remove")
async def remove_from_basket(request: Request, order_no: str) -> Response:
    session = answers.load_session(request)
    await guard.posted_form(request, session)
    buyer_id = guard.buyer(session)
    try:
        await basket.remove(service_context(request), buyer_id, order_no[:32])
    except DomainError as exc:
        return _refusal(request, session, exc, "/basket")
    session.flash("success", tr(request, "Removed from your basket: the unit is back on sale."))
    return answers.redirect(request, session, "/basket")


def _refusal(request: Request, session: WebSession, exc: DomainError, back: str) -> Response:
    text = BASKET_TEXT.get(exc.code)
    if text is None:
        return answers.refusal(request, session, exc, back)
    session.flash("error", i18n.gettext_for(i18n.request_language(request), text))
    return answers.redirect(request, session, back)
