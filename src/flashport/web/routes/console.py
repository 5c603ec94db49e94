"""The console's front page: the sections the signed-in person's role may open (web/console_guard.py).
Anyone on the staff (operator, merchandiser, customer service) may open it; others get the 403 page."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from flashport.domain.access import is_staff
from flashport.domain.errors import Forbidden
from flashport.web import answers, guard
from flashport.web.errors import WebRoute

router = APIRouter(route_class=WebRoute, include_in_schema=False)


@router.get("/operator")
async def console_home(request: Request) -> Response:
    session = answers.load_session(request)
    guard.logged_in(session)
    if not is_staff(session.role):
        raise Forbidden("the console is for the platform's staff", code="not_your_section")
    return answers.page(request, session, "operator_home.html")
