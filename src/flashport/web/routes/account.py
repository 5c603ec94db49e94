"""Registering, logging in and out. A failed attempt shows the form again with the reason."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from flashport.api.rate_limited import address_of
from flashport.domain.accounts import Role
from flashport.domain.errors import DomainError
from flashport.domain.rate_limits import Action
from flashport.http_errors import status_for
from flashport.services.accounts import users as accounts
from flashport.services.accounts.sessions import end_sessions
from flashport.services.notify import preferences
from flashport.web import answers, guard, i18n, messages
from flashport.web.errors import WebRoute
from flashport.web.i18n import tr
from flashport.web.state import service_context

router = APIRouter(route_class=WebRoute, include_in_schema=False)


@router.get("/login")
async def login_form(request: Request, next: str = "/") -> Response:
    session = answers.load_session(request)
    return answers.page(request, session, "login.html", next=answers.safe_next(next), email="", error=None)


@router.post("/login")
async def login(request: Request) -> Response:
    session = answers.load_session(request)
    form = await guard.posted_form(request, session)
    email, next_path = str(form.get("email", "")), answers.safe_next(str(form.get("next", "/")))
    ctx = service_context(request)
    try:
        async with ctx.limits.login_attempt(ctx.clock, email=email, address=address_of(request)):
            token = await accounts.log_in(ctx, email=email, password=str(form.get("password", "")))
    except DomainError as exc:
        text = messages.error_text(i18n.request_language(request), exc)
        values: dict[str, Any] = {"next": next_path, "email": email, "error": text}
        page = answers.page(request, session, "login.html", status=status_for(exc), **values)
        return answers.told_when(exc, page)
    user = await accounts.get_user(ctx, token.user_id)
    if user.role is Role.BUYER:  # a buyer who never chose gets messages in the page's language
        await preferences.adopt_page_language(ctx, user.id, i18n.request_language(request).tag)
    session.log_in(user.id, user.role.value, user.name, user.session_version)
    session.flash("success", tr(request, "Welcome back, %(name)s.") % {"name": user.name})
    return answers.redirect(request, session, next_path)


@router.get("/register")
async def register_form(request: Request, next: str = "/") -> Response:
    session = answers.load_session(request)
    values: dict[str, Any] = {"next": answers.safe_next(next), "email": "", "name": "", "error": None}
    return answers.page(request, session, "register.html", **values)


@router.post("/register")
async def register(request: Request) -> Response:
    session = answers.load_session(request)
    form = await guard.posted_form(request, session)
    email, name = str(form.get("email", "")), str(form.get("name", ""))
    next_path = answers.safe_next(str(form.get("next", "/")))
    ctx = service_context(request)
    try:
        await ctx.limits.check(
            Action.REGISTER, ctx.clock(), account=email.strip().lower(), address=address_of(request)
        )
        await accounts.sign_up(
            ctx,
            email=email,
            password=str(form.get("password", "")),
            name=name,
            language=i18n.request_language(request).tag,  # the messages' language is the page's
        )
    except DomainError as exc:
        text = messages.error_text(i18n.request_language(request), exc)
        values: dict[str, Any] = {"next": next_path, "email": email, "name": name, "error": text}
        page = answers.page(request, session, "register.html", status=status_for(exc), **values)
        return answers.told_when(exc, page)
    # The same page whether the address was new or not: registering does not say who has an account.
    note = tr(
        request,
        "If this address is new, its account is ready: log in. "
        "If it already has one, we have e-mailed its owner.",
    )
    session.flash("success", note)
    return answers.redirect(request, session, answers.login_url(next_path))


@router.post("/logout")
async def logout(request: Request) -> Response:
    session = answers.load_session(request)
    await guard.posted_form(request, session)
    if session.user_id is not None:
        await end_sessions(service_context(request), session.user_id)
    session.log_out()
    return answers.redirect(request, session, "/")
