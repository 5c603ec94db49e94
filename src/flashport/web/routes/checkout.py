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
from flashport.domain import divisions
from flashport.domain.errors import DomainError
from flashport.domain.identity import Consignee, check_consignee
from flashport.domain.limits import china_date
from flashport.domain.rate_limits import Action
from flashport.http_errors import status_for
from flashport.services.accounts import addresses, identities
from flashport.services.context import Context
from flashport.services.orders import checkout
from flashport.services.orders import lifecycle as orders
from flashport.web import answers, forms, guard, i18n, messages
from flashport.web.errors import WebRoute
from flashport.web.formatting import yuan
from flashport.web.forms import CheckoutValues
from flashport.web.i18n import tr
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
        values, consignee = await _with_address(ctx, buyer_id, values)
        details = checkout.CheckoutForm(
            consignee.name,
            consignee.phone,
            consignee.address,
            consignee.district,
            forms.chosen_identity(values),
        )
        breakdown = await checkout.check_out(ctx, buyer_id, order_no, details)
    except DomainError as exc:
        if exc.code == "order_not_found":
            raise  # another buyer's order, or none: the 404 page
        language = i18n.request_language(request)
        if answers.wants_json(request):
            refused = forms.explain(exc, i18n.request_language(request))
            problems = [{"field": name, "message": text} for name, text in refused.errors.items()]
            text = refused.problem.text if refused.problem else messages.error_text(language, exc)
            body = {"code": exc.code, "message": text, "details": problems}
            return answers.data(request, session, body, status=status_for(exc))
        refusal = forms.explain(exc, i18n.request_language(request))
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
    note = tr(request, "Checkout complete: %(total)s to pay. Pay before the timer ends.")
    session.flash("success", note % {"total": total})
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
    if values.adds_identity or (values.adds_address and values.save_address):
        await orders.get_for_buyer(ctx, buyer_id, order_no)  # 404 for an order that is not theirs
    if not values.adds_identity:
        return values
    added = await identities.add_identity(
        ctx, buyer_id, values.identity_name, id_number, values.identity_phone or None
    )
    # From here the new identity is one of the list: a later refusal (a limit) shows it chosen.
    return replace(values, identity_id=str(added.id), identity_name="")


async def _with_address(
    ctx: Context, buyer_id: int, values: CheckoutValues
) -> tuple[CheckoutValues, Consignee]:
    """Who receives the parcel: a saved address as it was saved, or the new one (saved first when the
    buyer asked; from then on it is chosen in the list, so a later refusal shows it chosen)."""
    saved_id = values.saved_address
    if saved_id is not None:
        return values, (await addresses.get_address(ctx, buyer_id, saved_id)).consignee()
    if values.save_address:
        added = await addresses.add_address(
            ctx,
            buyer_id,
            name=values.consignee_name,
            phone=values.consignee_phone,
            district_code=values.consignee_district,
            street=values.consignee_address,
        )
        return replace(values, address_id=str(added.id), save_address=False), added.consignee()
    place = divisions.place(values.consignee_district)
    written = f"{place.written} {values.consignee_address}" if place else values.consignee_address
    return values, check_consignee(
        values.consignee_name, values.consignee_phone, written, values.consignee_district
    )
