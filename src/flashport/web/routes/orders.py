"""The buyer's orders: the list with payment countdowns, one order, paying and cancelling.

Every read is scoped by the session's user id through the order services, so another buyer's order
number answers exactly like an unknown one (404). An order is paid only after checkout
(:mod:`flashport.web.routes.checkout`): until then the list offers "Check out", not "Pay".
"""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from flashport.api.rate_limited import address_of
from flashport.domain.errors import DomainError, ServiceUnavailable
from flashport.domain.rate_limits import Action
from flashport.services.orders import lifecycle as orders
from flashport.services.orders import storefront as order_progress
from flashport.services.payments.views import StartedPayment
from flashport.web import answers, guard, i18n, messages, showcase
from flashport.web.errors import WebRoute
from flashport.web.i18n import tr
from flashport.web.order_page import order_page, returned_for
from flashport.web.state import service_context, storefront

router = APIRouter(route_class=WebRoute, include_in_schema=False)


@router.get("/orders")
async def list_orders(request: Request) -> Response:
    session = answers.load_session(request)
    ctx = service_context(request)
    user_id = guard.logged_in(session)
    found = await orders.list_for_buyer(ctx, user_id)
    chinese = i18n.request_language(request) is i18n.ZH
    pictures = await showcase.order_pictures(ctx, storefront(request), found, chinese=chinese)
    line_pictures = await showcase.line_pictures(ctx, storefront(request), found, chinese=chinese)
    # Every shown order's stage, not only the unpaid ones': an expired, cancelled or paid order may
    # carry a refused payment whose reason and refund the card tells.
    stages = await order_progress.payment_stages(ctx, user_id, [o.order_no for o in found])
    return answers.page(
        request,
        session,
        "orders.html",
        orders=found,
        pictures=pictures,
        line_pictures=line_pictures,
        stages=stages,
        detail=False,
        returned_for=returned_for(request),
    )


@router.get("/orders/{order_no}")
async def show_order(request: Request, order_no: str) -> Response:
    session = answers.load_session(request)
    return await order_page(request, session, guard.logged_in(session), order_no[:32])


@router.post("/orders/{order_no}/pay")
async def pay(request: Request, order_no: str) -> Response:
    session = answers.load_session(request)
    await guard.posted_form(request, session)
    buyer_id = guard.buyer(session)
    order_no = order_no[:32]
    try:
        started = await _start_payment(request, buyer_id, order_no)
    except DomainError as exc:
        if exc.code == "checkout_required" and not answers.wants_json(request):
            # An order from before checkout existed, or a page left open: send the buyer to the form.
            session.flash(
                "info", tr(request, "Complete checkout first: choose the buyer and the delivery address.")
            )
            return answers.redirect(request, session, f"/orders/{quote(order_no, safe='')}#checkout")
        return answers.refusal(request, session, exc, "/orders")
    return answers.redirect(request, session, started.redirect_url)


@router.post("/orders/{order_no}/cancel")
async def cancel(request: Request, order_no: str) -> Response:
    session = answers.load_session(request)
    await guard.posted_form(request, session)
    buyer_id = guard.buyer(session)
    try:
        await orders.cancel_by_buyer(service_context(request), buyer_id, order_no[:32])
    except DomainError as exc:
        session.flash("error", messages.error_text(i18n.request_language(request), exc))
    else:
        note = tr(request, "Order %(number)s is cancelled; its units are back on sale.")
        session.flash("info", note % {"number": order_no[:32]})
    return answers.redirect(request, session, "/orders")


async def _start_payment(request: Request, buyer_id: int, order_no: str) -> StartedPayment:
    # Imported here: the payment service is optional in this process's build (a storefront without it
    # still lists and sells), and importing it pulls in the provider's crypto.
    try:
        from flashport.services.payments.settlement import start_payment
    except ImportError as exc:
        raise ServiceUnavailable("payment is not available right now", code="payments_unavailable") from exc
    ctx = service_context(request)
    await ctx.limits.check(Action.PAY, ctx.clock(), account=buyer_id, address=address_of(request))
    return await start_payment(ctx, buyer_id, order_no)
