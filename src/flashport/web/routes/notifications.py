"""The buyer's side of notifications in the storefront: the account page of notification preferences,
the waitlist form of a sold-out item (``/items/<id>#waitlist``) and "remind me" for an upcoming sale."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from flashport.domain.errors import DomainError
from flashport.domain.notifications import LANGUAGES, MUTABLE_KINDS, Kind
from flashport.http_errors import status_for
from flashport.services.notify import preferences, reminders, waitlist
from flashport.web import answers, guard, i18n, messages
from flashport.web.errors import WebRoute
from flashport.web.guard import Id
from flashport.web.i18n import N_, tr
from flashport.web.session import WebSession
from flashport.web.state import service_context

router = APIRouter(route_class=WebRoute, include_in_schema=False)

# What each kind is called on the preferences page, in the order shown.
KIND_LABELS = {
    Kind.SALE_OPENS: N_("A sale I asked to be reminded of opens"),
    Kind.PAY_SOON: N_("Five minutes left to pay"),
    Kind.PAID: N_("Payment received"),
    Kind.RELEASED: N_("Released by customs"),
    Kind.SHIPPED: N_("Shipped"),
    Kind.DELIVERED: N_("Delivered"),
    Kind.REFUNDED: N_("Refunded, and why"),
    Kind.CANCEL_REFUSED: N_("A cancellation I asked for could not be made"),
    Kind.WAITLIST: N_("An item I wait for is back"),
}


# The refusals of this module's services, in the reader's language (kept here, beside their routes).
messages.BY_CODE.update(
    {
        "not_sold_out": N_("Units are still on sale: buy one now instead of waiting."),
        "sale_over": N_("This sale has ended, so it has no waitlist."),
        "sale_already_open": N_("This sale is already open: no reminder needed."),
        "sale_not_found": N_("This sale does not exist."),
        "invalid_preferences": N_(
            "Please check the language and the mobile number (11 digits starting 13-19)."
        ),
    }
)


@router.get("/account/notifications")
async def preferences_page(request: Request) -> Response:
    session = answers.load_session(request)
    buyer_id = guard.buyer(session)
    prefs = await preferences.of_buyer(service_context(request), buyer_id)
    return _page(request, session, prefs.language, prefs.mobile or "", {k.value for k in prefs.muted})


@router.post("/account/notifications")
async def save_preferences(request: Request) -> Response:
    session = answers.load_session(request)
    form = await guard.posted_form(request, session)
    buyer_id = guard.buyer(session)
    language = str(form.get("language") or "")
    mobile = str(form.get("mobile") or "")
    muted = {k.value for k in MUTABLE_KINDS if form.get(f"kind_{k.value}") != "on"}
    try:
        await preferences.save(service_context(request), buyer_id, language, mobile, muted)
    except DomainError as exc:
        problem = messages.error_text(i18n.request_language(request), exc)
        return _page(request, session, language, mobile, muted, problem=problem, status=status_for(exc))
    session.flash("success", tr(request, "Notification preferences saved."))
    return answers.redirect(request, session, "/account/notifications")


def _page(
    request: Request,
    session: WebSession,
    language: str,
    mobile: str,
    muted: set[str],
    *,
    problem: str | None = None,
    status: int = 200,
) -> Response:
    kinds = [(k.value, tr(request, label), k.value not in muted) for k, label in KIND_LABELS.items()]
    return answers.page(
        request,
        session,
        "notifications.html",
        status=status,
        kinds=kinds,
        message_language=language,  # not "language": the base template's is the page's own
        message_languages=LANGUAGES,
        mobile=mobile,
        problem=problem,
    )


async def standing_for(request: Request, item_id: int) -> waitlist.Standing | None:
    """Where the logged-in buyer stands on the item's waitlist (None for anyone else)."""
    session = answers.load_session(request)
    if not session.is_buyer or session.user_id is None:
        return None
    return await waitlist.standing(service_context(request), session.user_id, item_id)


@router.post("/items/{item_id:int}/waitlist")
async def join_waitlist(request: Request, item_id: Id) -> Response:
    session = answers.load_session(request)
    await guard.posted_form(request, session)
    buyer_id = guard.buyer(session)
    try:
        await waitlist.join(service_context(request), buyer_id, item_id)
    except DomainError as exc:
        session.flash("error", messages.error_text(i18n.request_language(request), exc))
    else:
        session.flash(
            "success", tr(request, "You are on the waitlist. We will tell you when units come back.")
        )
    return answers.redirect(request, session, f"/items/{item_id}#waitlist")


@router.post("/items/{item_id:int}/waitlist/leave")
async def leave_waitlist(request: Request, item_id: Id) -> Response:
    session = answers.load_session(request)
    await guard.posted_form(request, session)
    await waitlist.leave(service_context(request), guard.buyer(session), item_id)
    session.flash("info", tr(request, "You left the waitlist."))
    return answers.redirect(request, session, f"/items/{item_id}#waitlist")


@router.post("/events/{event_id:int}/reminder")
async def remind_me(request: Request, event_id: Id) -> Response:
    session = answers.load_session(request)
    await guard.posted_form(request, session)
    buyer_id = guard.buyer(session)
    try:
        await reminders.remind(service_context(request), buyer_id, event_id)
    except DomainError as exc:
        session.flash("error", messages.error_text(i18n.request_language(request), exc))
    else:
        session.flash("success", tr(request, "Reminder set: we will tell you when this sale opens."))
    return answers.redirect(request, session, f"/events/{event_id}")
