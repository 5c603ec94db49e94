"""The operator console's live sale board: a page rendered with the current figures, which its script
refreshes every second from ``/operator/board.json`` and draws as charts. Without scripts the page
reloads itself every two seconds. Both answers come from the process's shared board
(services/sales/board.py), built at most once a second however many screens are open.

The controls beside the figures (pause, resume, top up, end early) are forms with the session's CSRF
token; each asks for a confirmation first (a second button that opens under the first, so it works
without scripts). The audit log of operator actions is at ``/operator/audit``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from flashport.domain.access import Duty
from flashport.domain.errors import DomainError, InvalidInput
from flashport.services.context import Context
from flashport.services.sales import controls
from flashport.services.sales.board import SaleBoard, board_json
from flashport.web import answers, guard
from flashport.web.console_guard import staff_only
from flashport.web.errors import WebRoute
from flashport.web.guard import Id
from flashport.web.i18n import N_, tr
from flashport.web.state import service_context

router = APIRouter(prefix="/operator", route_class=WebRoute, include_in_schema=False)


def _board(request: Request) -> SaleBoard:
    board: SaleBoard = request.app.state.board
    return board


@router.get("/board")
async def board_page(request: Request) -> Response:
    session = answers.load_session(request)
    staff_only(session, Duty.LIVE_SALE)
    figures = await _board(request).snapshot(service_context(request))
    return answers.page(request, session, "operator_board.html", board=figures)


@router.get("/board.json")
async def board_figures(request: Request) -> Response:
    session = answers.load_session(request)
    staff_only(session, Duty.LIVE_SALE)
    figures = await _board(request).snapshot(service_context(request))
    return answers.data(request, session, board_json(figures))


Control = Callable[[Context, int, int], Awaitable[controls.ControlResult]]
CONTROLS: dict[tuple[str, str], Control] = {
    ("events", "pause"): controls.pause_event,
    ("events", "resume"): controls.resume_event,
    ("events", "end"): controls.end_event_early,
    ("items", "pause"): controls.pause_item,
    ("items", "resume"): controls.resume_item,
}
DONE = {
    "event.paused": N_("Event %(ref)s paused: buyers are told to try again shortly."),
    "event.resumed": N_("Event %(ref)s resumed."),
    "event.ended_early": N_("Event %(ref)s ended: nothing more sells; its orders may still be paid."),
    "sale_item.paused": N_("Item %(ref)s paused."),
    "sale_item.resumed": N_("Item %(ref)s resumed."),
    "sale_item.topped_up": N_("Item %(ref)s topped up."),
}


@router.post("/board/{kind}/{ref:int}/{action}")
async def control(request: Request, kind: str, ref: Id, action: str) -> Response:
    session = answers.load_session(request)
    form = await guard.posted_form(request, session)
    operator_id = staff_only(session, Duty.LIVE_SALE)
    ctx = service_context(request)
    try:
        if (kind, action) == ("items", "top-up"):
            result = await controls.top_up_item(ctx, operator_id, ref, _units(form.get("units")))
        elif (kind, action) in CONTROLS:
            result = await CONTROLS[kind, action](ctx, operator_id, ref)
        else:
            raise InvalidInput(f"no such control: {kind} {action}", code="unknown_control")
    except DomainError as exc:
        return answers.refusal(request, session, exc, "/operator/board")
    message = (
        tr(request, DONE[result.action]) % {"ref": ref}
        if result.changed
        else tr(request, "Nothing to change: it already was so.")
    )
    session.flash("success", message)
    return answers.redirect(request, session, "/operator/board")


def _units(raw: object) -> int:
    text = str(raw or "").strip()
    if not text.isdigit() or not 1 <= int(text) <= 10_000_000:
        raise InvalidInput(
            "give the units to add as a whole number from 1 to 10,000,000",
            code="invalid_units",
            facts={"max": 10_000_000},
        )
    return int(text)


AUDIT_PAGE = 50


@router.get("/audit")
async def audit_page(request: Request, action: str = "", subject: str = "", before: str = "") -> Response:
    session = answers.load_session(request)
    staff_only(session, Duty.AUDIT)
    before_id = int(before) if before.isdigit() and 0 < int(before) < 2**63 else None
    entries = await controls.audit_log(
        service_context(request),
        before_id=before_id,
        limit=AUDIT_PAGE + 1,
        action=action[:64] or None,
        subject=subject[:128] or None,
    )
    return answers.page(
        request,
        session,
        "operator_audit.html",
        entries=entries[:AUDIT_PAGE],
        more=entries[AUDIT_PAGE - 1].id if len(entries) > AUDIT_PAGE else None,
        action=action[:64],
        subject=subject[:128],
    )
