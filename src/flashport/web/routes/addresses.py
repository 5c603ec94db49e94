"""The buyer's saved delivery addresses, and the lists of places that address forms choose from.

``/divisions/<code>`` answers a province's cities or a city's districts as JSON for the linked lists
(``static/js/address.js``); the lists never change within an edition, so browsers may keep the answer.
"""

from __future__ import annotations

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from flashport.domain import divisions
from flashport.domain.errors import DomainError
from flashport.http_errors import status_for
from flashport.services.accounts import addresses
from flashport.web import answers, forms, guard, i18n, messages
from flashport.web.address_lists import lists_for
from flashport.web.errors import WebRoute
from flashport.web.forms import CheckoutValues
from flashport.web.guard import Id
from flashport.web.i18n import tr
from flashport.web.session import WebSession
from flashport.web.state import service_context

router = APIRouter(route_class=WebRoute, include_in_schema=False)


@router.get("/divisions/{code}")
async def division_children(code: str) -> Response:
    """The places one level below ``code`` (``""``-less: an unknown code has none)."""
    places = [{"code": place.code, "name": place.name} for place in divisions.children(code[:6])]
    headers = {"Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff"}
    return JSONResponse({"code": code[:6], "children": places}, headers=headers)


@router.get("/account/addresses")
async def list_addresses(request: Request) -> Response:
    session = answers.load_session(request)
    return await _page(request, session, guard.buyer(session), CheckoutValues())


@router.post("/account/addresses")
async def add_address(request: Request) -> Response:
    session = answers.load_session(request)
    form = await guard.posted_form(request, session)
    buyer_id = guard.buyer(session)
    values = CheckoutValues.from_form(form)
    try:
        forms.refuse_if(forms.address_problems(values))
        added = await addresses.add_address(
            service_context(request),
            buyer_id,
            name=values.consignee_name,
            phone=values.consignee_phone,
            district_code=values.consignee_district,
            street=values.consignee_address,
        )
    except DomainError as exc:
        refusal = forms.explain(exc, i18n.request_language(request))
        return await _page(
            request,
            session,
            buyer_id,
            values,
            errors=refusal.errors,
            problem=refusal.problem,
            status=status_for(exc),
        )
    session.flash("success", tr(request, "Address saved: %(address)s.") % {"address": added.written})
    return answers.redirect(request, session, "/account/addresses")


@router.post("/account/addresses/{address_id:int}/delete")
async def remove_address(request: Request, address_id: Id) -> Response:
    session = answers.load_session(request)
    await guard.posted_form(request, session)
    buyer_id = guard.buyer(session)
    try:
        await addresses.remove_address(service_context(request), buyer_id, address_id)
    except DomainError as exc:
        session.flash("error", messages.error_text(i18n.request_language(request), exc))
    else:
        note = tr(request, "Address removed. Orders already checked out keep the address they were sent to.")
        session.flash("info", note)
    return answers.redirect(request, session, "/account/addresses")


async def _page(
    request: Request,
    session: WebSession,
    buyer_id: int,
    values: CheckoutValues,
    *,
    errors: dict[str, str] | None = None,
    problem: forms.Problem | None = None,
    status: int = 200,
) -> Response:
    found = await addresses.list_addresses(service_context(request), buyer_id)
    return answers.page(
        request,
        session,
        "addresses.html",
        status=status,
        addresses=found,
        values=values,
        address_lists=lists_for(values.consignee_province, values.consignee_city, values.consignee_district),
        errors=errors or {},
        problem=problem,
        labels=forms.field_labels(i18n.request_language(request)),
        edition=divisions.edition(),
    )
