"""The console's order desk: find an order (number, buyer, phone), read its whole story, refund it with a
reason, and the payments and refunds lists with their states.

A refund takes two posts: the form states the amount and the reason, the next page asks for the
confirmation (with the figures as they will go to the provider), and only its "Yes" refunds. Both
posts carry the session's CSRF token; the refund writes an outbox event and an audit entry
(services/payments/staff_refunds.py)."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from flashport.domain.access import Duty, may
from flashport.domain.errors import DomainError, InvalidInput
from flashport.domain.money import format_fen, to_fen
from flashport.http_errors import status_for
from flashport.services.orders import desk
from flashport.services.payments import queries as payment_queries
from flashport.services.payments import staff_refunds
from flashport.web import answers, console_refusals, guard
from flashport.web.console_guard import staff_only
from flashport.web.errors import WebRoute
from flashport.web.i18n import N_, tr
from flashport.web.session import WebSession
from flashport.web.state import service_context

router = APIRouter(prefix="/operator", route_class=WebRoute, include_in_schema=False)
PAYMENT_STATES = ("pending", "succeeded", "closed")
LIST_SIZE = 100


@router.get("/orders")
async def find_orders(request: Request, q: str = "") -> Response:
    session = answers.load_session(request)
    staff_only(session, Duty.ORDERS)
    found: list[desk.OrderFound] = []
    problem = None
    if q.strip():
        try:
            found = await desk.find_orders(service_context(request), q)
        except InvalidInput as exc:
            problem = console_refusals.for_request(request, exc)
    if len(found) == 1 and found[0].order_no == q.strip():  # an exact order number: straight to it
        return answers.redirect(request, session, _order_url(found[0].order_no))
    return answers.page(request, session, "operator_orders.html", q=q[:320], found=found, problem=problem)


@router.get("/orders/{order_no}")
async def order_page(request: Request, order_no: str) -> Response:
    session = answers.load_session(request)
    staff_only(session, Duty.ORDERS)
    return await _story_page(request, session, order_no[:32])


@router.post("/orders/{order_no}/refund")
async def refund(request: Request, order_no: str) -> Response:
    session = answers.load_session(request)
    form = await guard.posted_form(request, session)
    staff_id = staff_only(session, Duty.REFUNDS)
    order_no = order_no[:32]
    reason, amount_text = str(form.get("reason") or ""), str(form.get("amount") or "").strip()
    ctx = service_context(request)
    try:
        amount = to_fen(amount_text, field="the amount") if amount_text else None
        if form.get("confirmed") != "yes":
            story = await desk.order_story(ctx, order_no)
            staff_refunds.check_reason(reason)
            return answers.page(
                request,
                session,
                "operator_refund_confirm.html",
                story=story,
                reason=reason,
                amount=amount_text,
                shown=format_fen(amount) if amount is not None else _paid(story),
            )
        done = await staff_refunds.refund_order(ctx, staff_id, order_no, reason, amount)
    except DomainError as exc:
        if exc.code == "order_not_found":
            raise
        return await _story_page(
            request,
            session,
            order_no,
            problem=console_refusals.for_request(request, exc),
            reason=reason,
            amount=amount_text,
            status=status_for(exc),
        )
    said = (
        N_("Refund of ¥%(amount)s for %(order)s confirmed by the provider.")
        if done.confirmed
        else N_("Refund of ¥%(amount)s for %(order)s sent; the provider has not confirmed yet (retried).")
    )
    session.flash("success", tr(request, said) % {"amount": done.amount, "order": order_no})
    return answers.redirect(request, session, _order_url(order_no))


@router.get("/payments")
async def payments_page(request: Request, status: str = "") -> Response:
    session = answers.load_session(request)
    staff_only(session, Duty.ORDERS)
    chosen = status if status in PAYMENT_STATES else None
    listed = await payment_queries.list_payments(
        service_context(request), status=chosen, order_no=None, limit=LIST_SIZE
    )
    return answers.page(
        request,
        session,
        "operator_payments.html",
        payments=listed,
        chosen=chosen or "all",
        filters=["all", *PAYMENT_STATES],
    )


@router.get("/refunds")
async def refunds_page(request: Request, status: str = "") -> Response:
    session = answers.load_session(request)
    staff_only(session, Duty.ORDERS)
    chosen = status if status in desk.REFUND_STATES else None
    listed = await desk.list_refunds(service_context(request), status=chosen, limit=LIST_SIZE)
    return answers.page(
        request,
        session,
        "operator_refunds.html",
        refunds=listed,
        chosen=chosen or "all",
        filters=["all", *desk.REFUND_STATES],
    )


async def _story_page(
    request: Request,
    session: WebSession,
    order_no: str,
    *,
    problem: str | None = None,
    reason: str = "",
    amount: str = "",
    status: int = 200,
) -> Response:
    story = await desk.order_story(service_context(request), order_no)
    return answers.page(
        request,
        session,
        "operator_order.html",
        status=status,
        story=story,
        problem=problem,
        reason=reason,
        amount=amount,
        may_refund=may(session.role, Duty.REFUNDS),
    )


def _paid(story: desk.OrderStory) -> str:
    return next((p.amount for p in story.payments if p.status == "succeeded"), story.total)


def _order_url(order_no: str) -> str:
    return f"/operator/orders/{quote(order_no, safe='')}"
