"""Who may post what: the CSRF check on every storefront POST, and the log-in and buyer checks.

The CSRF token lives in the signed session; forms send it as ``csrf_token`` and scripts as the
``X-CSRF-Token`` header. SameSite=Lax already keeps the cookie off cross-site POSTs; the token also
covers older browsers and same-site subdomains.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Path
from starlette.datastructures import FormData
from starlette.requests import Request

from flashport.domain.errors import Forbidden, Unauthenticated
from flashport.web.session import WebSession

# Ids in URLs: digits only (the route pattern) and within a BIGINT, so no lookup can overflow.
Id = Annotated[int, Path(ge=1, le=2**62)]


async def posted_form(request: Request, session: WebSession) -> FormData:
    """The form of a POST whose CSRF token matches the session's; otherwise 403 and nothing happens."""
    form = await request.form(max_files=0, max_fields=20, max_part_size=16 * 1024)
    sent = request.headers.get("x-csrf-token") or form.get("csrf_token")
    expected = session.data.get("csrf")
    if not (isinstance(sent, str) and isinstance(expected, str) and hmac.compare_digest(sent, expected)):
        raise Forbidden(
            "this form has expired or did not come from this site; reload the page and try again",
            code="csrf_failed",
        )
    return form


def logged_in(session: WebSession) -> int:
    if session.user_id is None:
        raise Unauthenticated("please log in first", code="login_required")
    return session.user_id


def buyer(session: WebSession) -> int:
    """Only buyer accounts buy and pay; operators and suppliers may browse the storefront."""
    user_id = logged_in(session)
    if not session.is_buyer:
        role = session.role or "someone else"
        raise Forbidden(f"only buyer accounts can buy; you are logged in as {role}", code="buyers_only")
    return user_id
