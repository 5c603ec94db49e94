"""The compliance officer's pages for customs declarations: the list filtered by state, one declaration
with its messages and receipts, a message downloaded exactly as sent, and a rejected one re-declared,
optionally with the consignee corrected.

Operators only: a visitor is sent to log in, anyone else gets the 403 page. Everything goes through
:mod:`flashport.services.customs.operator`, whose views leave ID numbers out; only the downloaded
message carries one, as customs received it, and it is never cached.
"""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from flashport.domain.access import Duty
from flashport.domain.declarations import DeclarationState
from flashport.domain.errors import DomainError, InvalidInput
from flashport.http_errors import status_for
from flashport.services.customs import operator
from flashport.web import answers, console_refusals, forms, guard
from flashport.web.console_guard import staff_only
from flashport.web.errors import WebRoute
from flashport.web.forms import CheckoutValues, Problem
from flashport.web.guard import Id
from flashport.web.i18n import N_, request_language, tr
from flashport.web.session import WebSession
from flashport.web.state import service_context

# The worklist, offered beside the states: declarations that cannot go on without a person.
NEEDS_ATTENTION = "needs_attention"
router = APIRouter(prefix="/operator/declarations", route_class=WebRoute, include_in_schema=False)

PAGE_SIZE = 50
APP_TYPES = {"1": N_("new"), "2": N_("change"), "3": N_("delete")}  # a message's appType, in words
CONSIGNEE_FIELDS = ("consignee_name", "consignee_phone", "consignee_address", "consignee_district")
# Refusals about the declaration as a whole, stated above the form; field mistakes go beside fields.
PROBLEM_TITLES = {
    "declaration_not_rejected": N_("Only a rejected declaration can be re-declared"),
    "declaration_changed": N_("This declaration changed meanwhile"),
}


def operator_only(session: WebSession) -> int:
    """The declarations pages' guard: the customs duty (console_guard.py)."""
    return staff_only(session, Duty.CUSTOMS)


@router.get("")
async def list_declarations(request: Request, state: str = "", after: str = "") -> Response:
    session = answers.load_session(request)
    operator_only(session)
    worklist = state == NEEDS_ATTENTION
    chosen, after_id = (None if worklist else _state_filter(state)), _after_id(after)
    found = await operator.list_declarations(
        service_context(request),
        state=chosen,
        after_id=after_id,
        limit=PAGE_SIZE,
        attention_only=worklist,
    )
    return answers.page(
        request,
        session,
        "operator_declarations.html",
        listing=found,
        chosen=NEEDS_ATTENTION if worklist else (chosen.value if chosen else "all"),
        filters=["all", NEEDS_ATTENTION, *(s.value for s in DeclarationState)],
        first_page=after_id == 0,
    )


@router.get("/{order_no}")
async def show_declaration(request: Request, order_no: str) -> Response:
    session = answers.load_session(request)
    operator_only(session)
    return await _detail_page(request, session, order_no[:32])


@router.get("/{order_no}/messages/{message_id:int}")
async def download_message(request: Request, order_no: str, message_id: Id) -> Response:
    operator_id = operator_only(answers.load_session(request))
    found = await operator.message_body(
        service_context(request), order_no[:32], message_id, operator_id=operator_id
    )
    headers = {
        "content-disposition": f'attachment; filename="{found.name}"',
        # The message holds the buyer's ID number in full: no copy in any cache, shared or private.
        "cache-control": "no-store",
        "x-content-type-options": "nosniff",
    }
    return Response(found.body, media_type="application/xml", headers=headers)


@router.post("/{order_no}/redeclare")
async def redeclare(request: Request, order_no: str) -> Response:
    session = answers.load_session(request)
    form = await guard.posted_form(request, session)
    operator_only(session)
    order_no, values = order_no[:32], CheckoutValues.from_form(form)
    try:
        found = await _redeclare(request, order_no, values)
    except DomainError as exc:
        if exc.code == "declaration_not_found":
            raise  # the 404 page
        errors, problem = _explain(request, exc)
        return await _detail_page(
            request, session, order_no, values=values, errors=errors, problem=problem, status=status_for(exc)
        )
    said = (
        N_("Declaration of %(order)s sent again with the consignee corrected, as version %(version)s.")
        if _correction(values)
        else N_("Declaration of %(order)s sent again, as version %(version)s.")
    )
    session.flash("success", tr(request, said) % {"order": order_no, "version": found.version})
    return answers.redirect(request, session, f"/operator/declarations/{quote(order_no, safe='')}")


async def _redeclare(request: Request, order_no: str, values: CheckoutValues) -> operator.DeclarationDetail:
    """Every consignee mistake is found (and shown together) before anything is sent again."""
    correction = _correction(values)
    if correction is not None:
        forms.refuse_if(forms.consignee_problems(values))
    return await operator.redeclare(service_context(request), order_no, correction)


def _correction(values: CheckoutValues) -> operator.ConsigneeCorrection | None:
    """The consignee as typed, or None when every field was left empty (re-declare as it is)."""
    typed = [getattr(values, name) for name in CONSIGNEE_FIELDS]
    if not any(typed):
        return None
    return operator.ConsigneeCorrection(*typed)


def _explain(request: Request, exc: DomainError) -> tuple[dict[str, str], Problem | None]:
    """Consignee mistakes beside their fields; anything else above the form, under a title."""
    language = request_language(request)
    if isinstance(exc, InvalidInput) and exc.details:
        errors = console_refusals.field_problems(language, exc)
        if set(errors) <= set(CONSIGNEE_FIELDS):
            return errors, None
    title = tr(request, PROBLEM_TITLES.get(exc.code, N_("The declaration was not sent again")))
    return {}, Problem(title, console_refusals.said(language, exc))


async def _detail_page(
    request: Request,
    session: WebSession,
    order_no: str,
    *,
    values: CheckoutValues | None = None,
    errors: dict[str, str] | None = None,
    problem: Problem | None = None,
    status: int = 200,
) -> Response:
    found = await operator.get_declaration(service_context(request), order_no)
    return answers.page(
        request,
        session,
        "operator_declaration.html",
        status=status,
        declaration=found,
        rejected=found.state is DeclarationState.REJECTED,
        app_types=APP_TYPES,
        values=values or CheckoutValues(),  # never prefilled: a correction is typed afresh
        errors=errors or {},
        problem=problem,
        labels={name: tr(request, label) for name, label in forms.CORRECTION_LABELS.items()},
    )


def _state_filter(state: str) -> DeclarationState | None:
    if state in ("", "all"):
        return None
    try:
        return DeclarationState(state)
    except ValueError:
        raise InvalidInput(
            f"there is no declaration state {state[:20]!r}", code="invalid_state", facts={"value": state[:20]}
        ) from None


def _after_id(after: str) -> int:
    """The keyset cursor of the previous page: digits within a BIGINT, or nothing for the first page."""
    if not after:
        return 0
    if not (after.isascii() and after.isdigit()) or len(after) > 18:
        raise InvalidInput("the page cursor must be a whole number", code="invalid_cursor")
    return int(after)
