"""The language switch: a plain link that remembers the choice in a cookie and goes back to the page."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from flashport.web import answers, i18n
from flashport.web.errors import WebRoute

router = APIRouter(route_class=WebRoute, include_in_schema=False)


@router.get("/language/{tag}")
async def switch_language(request: Request, tag: str, next: str = "/") -> Response:
    session = answers.load_session(request)
    language = i18n.language_of(tag[:16]) or i18n.DEFAULT
    response = answers.redirect(request, session, answers.safe_next(next))
    i18n.remember(request, response, language)
    return response
