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

from flashport.domain.errors import FieldProblem, Forbidden, InvalidInput, Unauthenticated
from flashport.domain.text import describe, forbidden_character
from flashport.web.session import WebSession

# Ids in URLs: digits only (the route pattern) and within a BIGINT, so no lookup can overflow.
Id = Annotated[int, Path(ge=1, le=2**62)]


async def posted_form(
    request: Request, session: WebSession, *, max_files: int = 0, max_fields: int = 20
) -> FormData:
    """The form of a POST whose CSRF token matches the session's; otherwise 403 and nothing happens.
    Files only where a route allows them (``max_files``: the console's image upload)."""
    form = await request.form(max_files=max_files, max_fields=max_fields, max_part_size=16 * 1024)
    sent = request.headers.get("x-csrf-token") or form.get("csrf_token")
    expected = session.data.get("csrf")
    if not (isinstance(sent, str) and isinstance(expected, str) and hmac.compare_digest(sent, expected)):
        raise Forbidden(
            "this form has expired or did not come from this site; reload the page and try again",
            code="csrf_failed",
        )
    for name, value in form.multi_items():
        bad = forbidden_character(value) if isinstance(value, str) else None
        if bad is not None:  # the storefront's forms are single-line: names, addresses, phone numbers
            raise InvalidInput(
                f"{FIELD_NAMES.get(name, name)} holds a control character ({describe(bad)})",
                code="invalid_characters",
                details=[FieldProblem(name, "no control or bidi characters")],
            )
    return form


FIELD_NAMES = {"email": "the e-mail address", "password": "the password", "name": "the name"}


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
