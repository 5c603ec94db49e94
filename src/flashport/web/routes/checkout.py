"""Checkout from the order page: who is buying (one of the buyer's identities, or a new one added on
the spot) and who receives the parcel; the service then prices the order for customs.

A plain form post. A refusal shows the order page again with the reasons beside the fields and what
was typed, except the ID number: that is never sent back to the browser, nor logged.
"""

from __future__ import annotations

from dataclasses import replace
from urllib.parse import quote

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from flashport.api.rate_limited import address_of
from flashport.domain.errors import DomainError
from flashport.domain.limits import china_date
from flashport.domain.rate_limits import Action
from flashport.http_errors import status_for
from flashport.services.accounts import identities
from flashport.services.context import Context
from flashport.services.orders import checkout
from flashport.services.orders import lifecycle as orders
from flashport.web import answers, forms, guard
from flashport.web.errors import WebRoute
from flashport.web.formatting import yuan
from flashport.web.forms import CheckoutValues
from flashport.web.order_page import order_page
from flashport.web.state import service_context

router = APIRouter(route_class=WebRoute, include_in_schema=False)


@router.post("/orders/{order_no}/checkout")
async def check_out(request: Request, order_no: str) -> Response:
    session = answers.load_session(request)
    form = await guard.posted_form(request, session)
    buyer_id = guard.buyer(session)
    order_no, ctx = order_no[:32], service_context(request)
    values = CheckoutValues.from_form(form)
    try:
        address = address_of(request)
        await ctx.limits.check(Action.CHECKOUT, ctx.clock(), account=buyer_id, address=address)
        values = await _with_identity(ctx, buyer_id, order_no, values, forms.id_number_from(form))
        details = checkout.CheckoutForm(
            values.consignee_name,
            values.consignee_phone,
            values.consignee_address,
            values.consignee_district or None,
            forms.chosen_identity(values),
        )
        breakdown = await checkout.check_out(ctx, buyer_id, order_no, details)
    except DomainError as exc:
        if exc.code == "order_not_found":
            raise  # another buyer's order, or none: the 404 page
        if answers.wants_json(request):
            problems = [{"field": d.field, "message": d.message} for d in exc.details]
            body = {"code": exc.code, "message": exc.message, "details": problems}
            return answers.data(request, session, body, status=status_for(exc))
        refusal = forms.explain(exc)
        return await order_page(
            request,
            session,
            buyer_id,
            order_no,
            values=values,
            errors=refusal.errors,
            problem=refusal.problem,
            status=status_for(exc),
        )
    total = yuan(breakdown.total)
    session.flash("success", f"Checkout complete: {total} to pay. Pay before the timer ends.")
    target = f"/orders/{quote(order_no, safe='')}"
    if answers.wants_json(request):
        return answers.data(request, session, {"order_no": order_no, "total": total, "redirect": target})
    return answers.redirect(request, session, f"{target}#payment")


@router.get("/orders/{order_no}/checkout")
async def checkout_form(request: Request, order_no: str) -> Response:
    """The form's address typed in, or a refused form reloaded: the form is on the order page."""
    session = answers.load_session(request)
    return answers.redirect(request, session, f"/orders/{quote(order_no[:32], safe='')}#checkout")


async def _with_identity(
    ctx: Context, buyer_id: int, order_no: str, values: CheckoutValues, id_number: str
) -> CheckoutValues:
    """The form's values with a chosen identity: the one picked, or the new one, added now. Every field
    is checked before anything is stored, so a mistake anywhere (or someone else's order) adds no
    identity."""
    forms.refuse_if(forms.checkout_problems(values, id_number, china_date(ctx.clock())))
    if not values.adds_identity:
        return values
    await orders.get_for_buyer(ctx, buyer_id, order_no)  # 404 for an order that is not theirs
    added = await identities.add_identity(ctx, buyer_id, values.identity_name, id_number)
    # From here the new identity is one of the list: a later refusal (a limit) shows it chosen.
    return replace(values, identity_id=str(added.id), identity_name="")
