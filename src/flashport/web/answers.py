"""Building the storefront's responses: rendered pages, redirects and JSON, each with the session cookie
written when it changed and the same security headers."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from flashport.domain.errors import DomainError, RateLimited
from flashport.http_errors import status_for
from flashport.web import console_refusals, i18n, messages
from flashport.web import session as sessions
from flashport.web.formatting import iso_ms
from flashport.web.session import WebSession
from flashport.web.state import service_context, storefront

# Only our own origin may run scripts, load styles or be framed; product and banner images may come from
# any https host (operators set those URLs).
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data: https:; style-src 'self'; "
    "script-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "private, no-cache",
}


def load_session(request: Request) -> WebSession:
    """The request's session; a cookie whose session has ended (log-out elsewhere, a password change,
    deactivation) counts as logged out, and the answer clears it."""
    cached = getattr(request.state, "web_session", None)
    if cached is None:
        ctx = service_context(request)
        cached = sessions.load(request, ctx.settings.keys.secrets)
        uid = cached.user_id
        if uid is not None and not ctx.sessions.is_open(uid, cached.session_version):
            cached.log_out()
        request.state.web_session = cached
    return cached


def _finish(request: Request, response: Response, session: WebSession) -> Response:
    settings = service_context(request).settings
    sessions.save(
        request,
        response,
        session,
        settings.keys.secret,
        settings.token_ttl_seconds,
        always_secure=settings.public_url.startswith("https://"),
    )
    response.headers.update(SECURITY_HEADERS)
    return response


def page(
    request: Request, session: WebSession, template: str, *, status: int = 200, **values: Any
) -> Response:
    now = service_context(request).clock()
    flash = session.pop_flash()
    language = i18n.request_language(request)
    html = (
        storefront(request)
        .templates.for_language(language)
        .get_template(template)
        .render(request=request, session=session, flash=flash, now=now, now_iso=iso_ms(now), **values)
    )
    response = _finish(request, HTMLResponse(html, status_code=status), session)
    # The page's language depends on the cookie and Accept-Language: caches must keep them apart.
    response.headers["Content-Language"] = language.tag
    response.headers["Vary"] = "Accept-Language, Cookie"
    return response


def redirect(request: Request, session: WebSession, url: str) -> Response:
    return _finish(request, RedirectResponse(url, status_code=303), session)


def data(request: Request, session: WebSession, payload: Any, *, status: int = 200) -> Response:
    return _finish(request, JSONResponse(payload, status_code=status), session)


def refusal(request: Request, session: WebSession, exc: DomainError, back: str) -> Response:
    """A refused action: a script gets the reason and status at once (e.g. 409 ``sold_out``); a plain
    form goes back to ``back`` with the reason as a flash message."""
    text = console_refusals.for_request(request, exc)
    if wants_json(request):
        payload = {"code": exc.code, "message": text}
        return told_when(exc, data(request, session, payload, status=status_for(exc)))
    session.flash("error", text)
    return redirect(request, session, back)


def told_when(exc: DomainError, response: Response) -> Response:
    """A rate-limited answer says when to come back (``Retry-After``), as the API's do."""
    if isinstance(exc, RateLimited):
        response.headers["retry-after"] = str(exc.retry_after)
    return response


# A service's message as a sentence (its English words), where no code says it better.
sentence = messages.sentence


def wants_json(request: Request) -> bool:
    """The storefront's scripts ask for JSON; a plain form post (no script) wants a page."""
    return "application/json" in request.headers.get("accept", "")


def login_url(next_path: str) -> str:
    return f"/login?next={quote(next_path, safe='/')}"


def safe_next(value: str | None) -> str:
    """Where to go after log-in: only a path on this site, never ``//elsewhere`` (open redirect)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    return value
