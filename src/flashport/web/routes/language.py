"""The language switch: a plain link that remembers the choice in a cookie and goes back to the page.
A logged-in buyer's messages (e-mail, SMS) follow the switch from then on.

The switch is a GET link, and for a buyer it also writes the language of their messages: the session
cookie is SameSite=Lax, so another site can cause it only by sending the buyer to the link, which the
buyer then sees, and the worst it does is what the link says (the language changes)."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from flashport.services.notify import preferences
from flashport.web import answers, i18n
from flashport.web.errors import WebRoute
from flashport.web.state import service_context

router = APIRouter(route_class=WebRoute, include_in_schema=False)


@router.get("/language/{tag}")
async def switch_language(request: Request, tag: str, next: str = "/") -> Response:
    session = answers.load_session(request)
    language = i18n.language_of(tag[:16]) or i18n.DEFAULT
    if session.is_buyer and session.user_id is not None:
        await preferences.follow_page_language(service_context(request), session.user_id, language.tag)
    response = answers.redirect(request, session, answers.safe_next(next))
    i18n.remember(request, response, language)
    return response
