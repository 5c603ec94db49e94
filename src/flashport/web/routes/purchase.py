"""Buying from the storefront: a form post, enhanced by ``buy.js`` into a fetch that stays on the page.

The form carries one idempotency key per purchase intent (made when the item page rendered), so a
double click, a retry after a timeout or a resubmitted form reaches :func:`buying.buy` with the same key
and gets the same order back, never a second one.
"""

from __future__ import annotations

from fastapi import APIRouter
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from flashport.api.rate_limited import address_of
from flashport.domain.errors import DomainError, FieldProblem, InvalidInput
from flashport.domain.rate_limits import Action
from flashport.services.sales import buying
from flashport.web import answers, guard
from flashport.web.errors import WebRoute
from flashport.web.guard import Id
from flashport.web.i18n import tr
from flashport.web.state import service_context

router = APIRouter(route_class=WebRoute, include_in_schema=False)


@router.post("/items/{item_id:int}/buy")
async def buy(request: Request, item_id: Id) -> Response:
    session = answers.load_session(request)
    form = await guard.posted_form(request, session)
    buyer_id = guard.buyer(session)
    try:
        quantity, key = _quantity(form), str(form.get("idempotency_key", "")) or None
        ctx = service_context(request)
        await ctx.limits.check(Action.BUY, ctx.clock(), account=buyer_id, address=address_of(request))
        admission = str(form.get("admission", "")) or None  # a hot item's: the waiting room gave it
        purchase = await buying.buy(ctx, buyer_id, item_id, quantity, key, admission)
    except DomainError as exc:
        return answers.refusal(request, session, exc, f"/items/{item_id}")
    order_no = purchase.order["order_no"]
    reserved = tr(
        request, "Reserved! Order %(number)s is yours once paid: check out and pay before its timer ends."
    ) % {"number": order_no}
    session.flash("success", reserved)
    if not answers.wants_json(request):
        return answers.redirect(request, session, "/orders")
    payload = {"order_no": order_no, "created": purchase.created, "redirect": "/orders"}
    return answers.data(request, session, payload, status=201 if purchase.created else 200)


def _quantity(form: FormData) -> int:
    try:
        return int(str(form.get("quantity", "1")))
    except ValueError:
        raise InvalidInput(
            "quantity must be a whole number",
            code="invalid_quantity",
            details=[FieldProblem("quantity", "a whole number")],
        ) from None
