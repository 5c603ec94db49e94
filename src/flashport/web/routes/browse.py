"""Browsing: the channel home, an event's items, and one item with its buy form."""

from __future__ import annotations

import uuid

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from flashport.services.waiting_room import queue
from flashport.web import answers, i18n, showcase
from flashport.web.errors import WebRoute
from flashport.web.guard import Id
from flashport.web.routes import notifications as waitlist_view
from flashport.web.state import service_context, storefront

router = APIRouter(route_class=WebRoute, include_in_schema=False)


@router.get("/")
async def home(request: Request) -> Response:
    ctx = service_context(request)
    cards = await showcase.listings(ctx, storefront(request))
    live, upcoming = showcase.split_listings(cards, ctx.clock())
    # Not "ended": every unit reserved, some may come back (shown after the live ones, with when).
    reserved = await showcase.reserved_listings(ctx, storefront(request))
    if i18n.request_language(request) is i18n.ZH:
        live, upcoming = [card.in_chinese() for card in live], [card.in_chinese() for card in upcoming]
        reserved = [(card.in_chinese(), back_at) for card, back_at in reserved]
    return answers.page(
        request,
        answers.load_session(request),
        "home.html",
        live=live,
        upcoming=upcoming,
        reserved=reserved,
    )


@router.get("/events/{event_id:int}")
async def event(request: Request, event_id: Id) -> Response:
    ctx = service_context(request)
    found = await showcase.event_page(ctx, storefront(request), event_id)
    status = showcase.current_status(found, ctx.clock())
    if i18n.request_language(request) is i18n.ZH:
        found = found.in_chinese()
    items = [(item, showcase.sale_state(status, item)) for item in found.items]
    session = answers.load_session(request)
    back_at = await showcase.units_back_at(ctx, found, status, [item.id for item in found.items])
    return answers.page(
        request,
        session,
        "event.html",
        event=found,
        event_status=status.value,
        items=items,
        units_back_at=back_at,
    )


@router.get("/items/{item_id:int}")
async def item(request: Request, item_id: Id) -> Response:
    ctx = service_context(request)
    found_event, found = await showcase.item_page(ctx, storefront(request), item_id)
    status = showcase.current_status(found_event, ctx.clock())
    if i18n.request_language(request) is i18n.ZH:
        found_event, found = found_event.in_chinese(), found.in_chinese()
    state = showcase.sale_state(status, found)
    back_at = (
        await showcase.units_back_at(ctx, found_event, status, [found.id]) if state == "sold_out" else None
    )
    return answers.page(
        request,
        answers.load_session(request),
        "item.html",
        event=found_event,
        item=found,
        event_status=status.value,
        state=state,
        units_back_at=back_at,
        # One key per purchase intent: a double click or a retry of this form never buys twice.
        purchase_key=str(uuid.uuid4()),
        payment_minutes=ctx.settings.payment_window_seconds // 60,
        return_days=ctx.settings.return_policy_days,  # FLASHPORT_RETURN_POLICY_DAYS, as returns apply it
        waitlist_standing=await waitlist_view.standing_for(request, found.id),
        # A hot item is bought with the waiting room's token, which its queue page links here with.
        hot=await queue.is_hot(ctx, item_id),
        admission=request.query_params.get("admission", "")[:256],
    )
