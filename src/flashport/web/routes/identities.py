"""The buyer's real-name identities: the people they may buy as, listed with masked numbers, added and
removed. Checkout can add one too; this page is where they are looked after.

An added number goes straight to the identity service (stored encrypted); the page only ever shows
the masked form, and a refused form comes back with the number field empty.
"""

from __future__ import annotations

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from flashport.domain.errors import DomainError
from flashport.domain.limits import china_date
from flashport.http_errors import status_for
from flashport.services.accounts import identities
from flashport.web import answers, forms, guard, i18n, messages
from flashport.web.errors import WebRoute
from flashport.web.guard import Id
from flashport.web.i18n import tr
from flashport.web.session import WebSession
from flashport.web.state import service_context

router = APIRouter(prefix="/account/identities", route_class=WebRoute, include_in_schema=False)


@router.get("")
async def list_identities(request: Request) -> Response:
    session = answers.load_session(request)
    return await _page(request, session, guard.buyer(session))


@router.post("")
async def add_identity(request: Request) -> Response:
    session = answers.load_session(request)
    form = await guard.posted_form(request, session)
    buyer_id = guard.buyer(session)
    ctx = service_context(request)
    values = forms.CheckoutValues.from_form(form)
    name, number = values.identity_name, forms.id_number_from(form)
    try:
        forms.refuse_if(forms.identity_problems(name, number, china_date(ctx.clock())))
        added = await identities.add_identity(ctx, buyer_id, name, number, values.identity_phone or None)
    except DomainError as exc:
        refusal = forms.explain(exc, i18n.request_language(request))
        return await _page(
            request,
            session,
            buyer_id,
            name=name,
            errors=refusal.errors,
            problem=refusal.problem,
            status=status_for(exc),
        )
    note = tr(request, "Added %(name)s (%(number)s). You can now buy as them.")
    session.flash("success", note % {"name": added.name, "number": added.id_number})
    return answers.redirect(request, session, "/account/identities")


@router.post("/{identity_id:int}/delete")
async def remove_identity(request: Request, identity_id: Id) -> Response:
    session = answers.load_session(request)
    await guard.posted_form(request, session)
    buyer_id = guard.buyer(session)
    try:
        await identities.remove_identity(service_context(request), buyer_id, identity_id)
    except DomainError as exc:
        session.flash("error", messages.error_text(i18n.request_language(request), exc))
    else:
        note = tr(
            request, "Identity removed. Orders already checked out keep the buyer they were checked out with."
        )
        session.flash("info", note)
    return answers.redirect(request, session, "/account/identities")


async def _page(
    request: Request,
    session: WebSession,
    buyer_id: int,
    *,
    name: str = "",
    errors: dict[str, str] | None = None,
    problem: forms.Problem | None = None,
    status: int = 200,
) -> Response:
    found = await identities.list_identities(service_context(request), buyer_id)
    return answers.page(
        request,
        session,
        "identities.html",
        status=status,
        identities=found,
        name=name,
        errors=errors or {},
        problem=problem,
        labels=forms.field_labels(i18n.request_language(request)),
    )
