"""The storefront's one place where domain errors become answers: a page for people, JSON for scripts.

Status codes come from the mapping the API uses too (:func:`flashport.http_errors.status_for`), so the
storefront and the API never disagree about what an error means.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any
from urllib.parse import urlsplit

from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response

from flashport.adapters.failures import dependency_down
from flashport.domain.errors import DomainError, Unauthenticated
from flashport.http_errors import DEPENDENCY_DOWN, status_for
from flashport.web import answers, console_refusals, i18n, messages


def error_answer(request: Request, exc: DomainError) -> Response:
    status = status_for(exc)
    session = answers.load_session(request)
    language = i18n.request_language(request)
    text = console_refusals.for_request(request, exc)
    if answers.wants_json(request):
        answer = answers.data(request, session, {"code": exc.code, "message": text}, status=status)
        return _retry_after(answer, exc)
    if isinstance(exc, Unauthenticated):
        return answers.redirect(request, session, answers.login_url(_return_path(request)))
    title = messages.title_for(language, status)
    page = answers.page(request, session, "error.html", status=status, title=title, message=text)
    return _retry_after(page, exc)


def _retry_after(answer: Response, exc: DomainError) -> Response:
    retry_after = getattr(exc, "retry_after", None)
    if retry_after is not None and "retry-after" not in answer.headers:
        answer.headers["retry-after"] = str(retry_after)
    return answer


def _return_path(request: Request) -> str:
    """Where a visitor sent to log in comes back to: the page itself, or for a form the page it was on."""
    if request.method == "GET":
        return request.url.path
    referer = urlsplit(request.headers.get("referer", ""))
    return referer.path if referer.netloc == request.url.netloc and referer.path else "/"


class WebRoute(APIRoute):
    """A route whose domain errors are answered by :func:`error_answer` rather than the API's JSON."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            try:
                return await handler(request)
            except DomainError as exc:
                return error_answer(request, exc)
            except Exception as exc:
                if not dependency_down(exc):
                    raise
                return error_answer(request, DEPENDENCY_DOWN)  # fail closed: a 503 page, try again

        return guarded
