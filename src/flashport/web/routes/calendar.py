"""The sale calendar's pages (merchandisers and operators): a month of events by day and channel; a new
event; one event with its items, to edit, fill, schedule or cancel. Times are typed and shown in China
time, as the team plans. While a form is typed, calendar.js asks the two ``check.json`` answers for the
refusals the save would give (length, price band, free stock) and the warnings it would not (overlaps
on the channel, the brand on sale elsewhere), so they show before saving; the save checks again.

Every post carries the session's CSRF token and writes an audit entry (services/sales/calendar.py)."""

from __future__ import annotations

import contextlib
from dataclasses import asdict
from datetime import date, datetime
from typing import Any

from fastapi import APIRouter
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from flashport.domain.access import Duty
from flashport.domain.calendar import CHINA
from flashport.domain.errors import DomainError, FieldProblem, InvalidInput
from flashport.services.sales import calendar, queries
from flashport.web import answers, console_refusals, guard
from flashport.web.console_guard import staff_only
from flashport.web.errors import WebRoute
from flashport.web.guard import Id
from flashport.web.i18n import EN, N_, request_language, tr
from flashport.web.state import service_context

router = APIRouter(prefix="/operator", route_class=WebRoute, include_in_schema=False)
EVENT_FIELDS = ("title", "channel", "description", "starts_at", "ends_at", "preheat_at")
# What the forms' live checks say to a reader of another language than English, by the refusal's code
# or the warning's kind (English readers get the service's own words, as elsewhere in the console).
PROBLEMS = {
    "event_length_out_of_policy": N_("An event lasts %(min_days)s to %(max_days)s days."),
    "invalid_window": N_("The end must come after the start, both between the years 2020 and 2100."),
    "invalid_preheat": N_("The pre-heat must fall between the years 2020 and 2100."),
    "preheat_not_before_start": N_("The pre-heat must come before the start."),
    "price_out_of_band": N_("The sale price must be between ¥%(band_low)s and ¥%(band_high)s."),
    "invalid_money": N_("Write the sale price in yuan, e.g. 199.00."),
    "insufficient_stock": N_("Only %(free)s units are free in this warehouse."),
    "sku_not_found": N_("There is no SKU with this id."),
}
WARNINGS = {
    "channel_overlap": N_("“%(title)s” (event %(event_id)s) runs on %(channel)s at the same time."),
    "brand_clash": N_("%(brand)s is also on sale in “%(title)s” (event %(event_id)s) then."),
}


@router.get("/calendar")
async def month_page(request: Request, month: str = "", channel: str = "") -> Response:
    session = answers.load_session(request)
    staff_only(session, Duty.EVENTS)
    year, month_no = _month(month, service_context(request).clock())
    shown = await calendar.month(service_context(request), year, month_no, channel[:64] or None)
    before = date(year - (month_no == 1), 12 if month_no == 1 else month_no - 1, 1)
    after = date(year + (month_no == 12), 1 if month_no == 12 else month_no + 1, 1)
    return answers.page(
        request,
        session,
        "operator_calendar.html",
        shown=shown,
        channel=channel[:64],
        before=before.strftime("%Y-%m"),
        after=after.strftime("%Y-%m"),
        title=date(year, month_no, 1).strftime("%B %Y"),
    )


@router.get("/events/new")
async def new_event(request: Request) -> Response:
    session = answers.load_session(request)
    staff_only(session, Duty.EVENTS)
    return answers.page(request, session, "operator_event_new.html", values={}, errors={}, problem=None)


@router.post("/events")
async def create_event(request: Request) -> Response:
    session = answers.load_session(request)
    form = await guard.posted_form(request, session)
    staff_id = staff_only(session, Duty.EVENTS)
    values = {name: str(form.get(name) or "") for name in EVENT_FIELDS}
    try:
        fields = _event_fields(values)
        view = await calendar.create_event(service_context(request), staff_id, **fields)
    except DomainError as exc:
        errors, problem = _explain(request, exc)
        return answers.page(
            request,
            session,
            "operator_event_new.html",
            status=422 if errors else 409,
            values=values,
            errors=errors,
            problem=problem,
        )
    session.flash(
        "success",
        tr(request, "Event %(id)s created as a draft: add its items, then schedule it.") % {"id": view.id},
    )
    return answers.redirect(request, session, f"/operator/events/{view.id}")


@router.get("/events/check.json")
async def check_event(
    request: Request,
    channel: str = "",
    starts_at: str = "",
    ends_at: str = "",
    preheat_at: str = "",
    event_id: int = 0,
) -> Response:
    session = answers.load_session(request)
    staff_only(session, Duty.EVENTS)
    start = end = preheat = None
    with contextlib.suppress(InvalidInput):  # not typed yet: nothing to check
        start = _moment(starts_at, "starts_at")
        end = _moment(ends_at, "ends_at")
    with contextlib.suppress(InvalidInput):
        preheat = _moment(preheat_at, "preheat_at") if preheat_at.strip() else None
    checks = await calendar.check_event(
        service_context(request), channel[:64], start, end, event_id or None, preheat
    )
    return answers.data(request, session, _said(request, checks))


@router.get("/events/{event_id}")
async def event_page(request: Request, event_id: Id) -> Response:
    session = answers.load_session(request)
    staff_only(session, Duty.EVENTS)
    return await _event_page(request, event_id)


@router.get("/events/{event_id}/items/check.json")
async def check_item(
    request: Request,
    event_id: Id,
    sku_id: str = "",
    warehouse_id: str = "",
    sale_price: str = "",
    quantity: str = "",
) -> Response:
    session = answers.load_session(request)
    staff_only(session, Duty.EVENTS)
    if not (_digits(sku_id) and _digits(warehouse_id)):
        return answers.data(request, session, asdict(calendar.Checks()))
    units = int(quantity) if _digits(quantity) else None
    checks = await calendar.check_item(
        service_context(request), event_id, int(sku_id), int(warehouse_id), sale_price.strip()[:14], units
    )
    return answers.data(request, session, _said(request, checks))


@router.post("/events/{event_id}/{action}")
async def event_action(request: Request, event_id: Id, action: str) -> Response:
    session = answers.load_session(request)
    form = await guard.posted_form(request, session)
    staff_id = staff_only(session, Duty.EVENTS)
    ctx = service_context(request)
    try:
        if action == "edit":
            values = {name: str(form.get(name) or "") for name in EVENT_FIELDS}
            await calendar.update_event(ctx, staff_id, event_id, _event_fields(values))
            done = tr(request, "Event saved.")
        elif action == "items":
            item = await calendar.add_item(ctx, staff_id, event_id, **_item_fields(form))
            done = tr(request, "Item %(id)s added.") % {"id": item.id}
        elif action == "schedule":
            await calendar.schedule_event(ctx, staff_id, event_id)
            done = tr(request, "Event scheduled: it is announced and goes live at its start.")
        elif action == "cancel":
            await calendar.cancel_event(ctx, staff_id, event_id)
            done = tr(request, "Event cancelled: its unsold units went back to stock.")
        else:
            raise InvalidInput(f"no such action: {action[:20]}", code="unknown_action")
    except DomainError as exc:
        if exc.code == "event_not_found":
            raise
        return answers.refusal(request, session, exc, f"/operator/events/{event_id}")
    session.flash("success", done)
    return answers.redirect(request, session, f"/operator/events/{event_id}")


async def _event_page(request: Request, event_id: int) -> Response:
    session = answers.load_session(request)
    view = await queries.get_admin_event(service_context(request), event_id)
    values = {
        "title": view.title,
        "channel": view.channel,
        "description": view.description,
        "starts_at": _local(view.starts_at),
        "ends_at": _local(view.ends_at),
        "preheat_at": _local(view.preheat_at) if view.preheat_at else "",
    }
    return answers.page(request, session, "operator_event.html", event=view, values=values)


def _said(request: Request, checks: calendar.Checks) -> dict[str, Any]:
    """A form's live checks in the page's language: its refusals and warnings said again from their
    codes for a Chinese reader (a code without a sentence keeps the service's words)."""
    answer = asdict(checks)
    if request_language(request) is EN:
        return answer
    facts = checks.facts
    for name, code in checks.codes.items():
        text = PROBLEMS.get(code)
        if text is not None and (code != "price_out_of_band" or "band_low" in facts):
            answer["problems"][name] = tr(request, text) % facts
    answer["warnings"] = [tr(request, WARNINGS[clash["kind"]]) % clash for clash in checks.clashes]
    return answer


def _event_fields(values: dict[str, str]) -> dict[str, Any]:
    problems = [
        FieldProblem(name, "required", "missing_field")
        for name in ("title", "channel", "starts_at", "ends_at")
        if not values[name].strip()
    ]
    if problems:
        raise InvalidInput(
            "fill in the title, the channel and both times", code="invalid_form", details=problems
        )
    return {
        "title": values["title"].strip(),
        "channel": values["channel"].strip(),
        "description": values["description"].strip(),
        "starts_at": _moment(values["starts_at"], "starts_at"),
        "ends_at": _moment(values["ends_at"], "ends_at"),
        # Optional: left empty, buyers see the sale as soon as it is scheduled.
        "preheat_at": _moment(values["preheat_at"], "preheat_at") if values["preheat_at"].strip() else None,
    }


def _item_fields(form: FormData) -> dict[str, Any]:
    raw = {
        name: str(form.get(name) or "").strip()
        for name in ("sku_id", "warehouse_id", "sale_price", "quantity", "per_buyer_limit")
    }
    bad = [
        FieldProblem(n, "a whole number", "invalid_number")
        for n in ("sku_id", "warehouse_id", "quantity", "per_buyer_limit")
        if not _digits(raw[n])
    ]
    if bad or not raw["sale_price"]:
        raise InvalidInput(
            "fill in the SKU, the warehouse, the price, the units and the limit",
            code="invalid_item",
            details=bad,
        )
    return {
        "sku_id": int(raw["sku_id"]),
        "warehouse_id": int(raw["warehouse_id"]),
        "sale_price": raw["sale_price"],
        "quantity": int(raw["quantity"]),
        "per_buyer_limit": int(raw["per_buyer_limit"]),
    }


def _moment(text: str, name: str) -> datetime:
    """A ``datetime-local`` value typed in China time, as an aware datetime."""
    try:
        return datetime.fromisoformat(text.strip()[:19]).replace(tzinfo=CHINA)
    except ValueError:
        raise InvalidInput(
            f"{name} is not a date and time",
            code="invalid_datetime",
            details=[FieldProblem(name, "YYYY-MM-DDTHH:MM", "invalid_datetime")],
        ) from None


def _local(moment: datetime) -> str:
    return moment.astimezone(CHINA).strftime("%Y-%m-%dT%H:%M")


def _digits(text: str) -> bool:
    return text.isascii() and text.isdigit() and len(text) <= 18


def _month(text: str, now: datetime) -> tuple[int, int]:
    try:
        chosen = datetime.strptime(text, "%Y-%m") if text else now.astimezone(CHINA)
    except ValueError:
        raise InvalidInput("the month is written YYYY-MM", code="invalid_month") from None
    if not 2020 <= chosen.year <= 2100:
        raise InvalidInput("the month is written YYYY-MM", code="invalid_month")
    return chosen.year, chosen.month


def _explain(request: Request, exc: DomainError) -> tuple[dict[str, str], str | None]:
    """The refusal above the form, and each field's problem beside it."""
    language = request_language(request)
    return console_refusals.field_problems(language, exc), console_refusals.said(language, exc)
