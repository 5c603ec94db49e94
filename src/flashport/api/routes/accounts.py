"""Registration, log-in, and the operators' user management."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field

from flashport.api.deps import AnyUser, OperatorOnly, duty_doc, get_ctx, public_doc, roles_doc
from flashport.api.inputs import Id, Input
from flashport.api.rate_limited import address_of
from flashport.domain.access import Duty
from flashport.domain.accounts import Principal, Role
from flashport.domain.rate_limits import Action
from flashport.services.accounts import sessions
from flashport.services.accounts import users as accounts
from flashport.services.accounts.users import AccessGrant, User
from flashport.services.context import Context

router = APIRouter(prefix="/api/v1", tags=["accounts"])


class RegisterIn(Input):
    email: str = Field(max_length=320, examples=["li.na@example.com"])
    password: str = Field(min_length=1, max_length=1024)
    name: str = Field(min_length=1, max_length=200)


class StaffIn(RegisterIn):
    role: Role
    supplier_id: int | None = None


class UserOut(BaseModel):
    id: int
    email: str
    name: str
    role: Role
    supplier_id: int | None = None
    created_at: datetime | None = None


class LoginIn(Input):
    email: str = Field(max_length=320)
    password: str = Field(max_length=1024)


class TokenOut(BaseModel):
    access_token: str
    token_type: str
    expires_in: int
    role: Role
    user_id: int


class RegisteredOut(BaseModel):
    email: str
    message: str


class PasswordChangeIn(Input):
    current_password: str = Field(max_length=1024)
    new_password: str = Field(min_length=1, max_length=1024)


@router.post(
    "/auth/register",
    status_code=202,
    response_model=RegisteredOut,
    summary="A buyer registers",
    description="The same answer whether the address already has an account or not (the owner of an "
    "existing one is e-mailed instead), so this does not tell who has an account. The password must "
    "have 10+ characters, differ from the e-mail address and not be a common one (`weak_password`).",
    **public_doc(422, 429),
)
async def register(body: RegisterIn, request: Request, ctx: Context = Depends(get_ctx)) -> RegisteredOut:
    await ctx.limits.check(
        Action.REGISTER, ctx.clock(), account=body.email.strip().lower(), address=address_of(request)
    )
    message = await accounts.sign_up(ctx, email=body.email, password=body.password, name=body.name)
    return RegisteredOut(email=body.email.strip().lower(), message=message)


@router.post(
    "/auth/logout",
    status_code=204,
    summary="End every session of the caller",
    description="Every token and storefront cookie of the caller stops working: at once on this "
    "process, on every process within `FLASHPORT_SESSION_POLL_SECONDS`.",
    **duty_doc(Duty.OWN_ACCOUNT),
)
async def logout(who: Principal = AnyUser, ctx: Context = Depends(get_ctx)) -> Response:
    await sessions.end_sessions(ctx, who.user_id)
    return Response(status_code=204)


@router.post(
    "/me/password",
    status_code=204,
    summary="Change the caller's password (every session ends)",
    **duty_doc(Duty.OWN_ACCOUNT, errors=(422,)),
)
async def change_password(
    body: PasswordChangeIn, who: Principal = AnyUser, ctx: Context = Depends(get_ctx)
) -> Response:
    await accounts.change_password(ctx, who.user_id, current=body.current_password, new=body.new_password)
    return Response(status_code=204)


@router.post(
    "/users/{user_id}/deactivate",
    status_code=204,
    summary="Deactivate an account: every session ends and log-in is refused",
    **roles_doc(Role.OPERATOR, errors=(404, 422)),
)
async def deactivate(user_id: Id, _: Principal = OperatorOnly, ctx: Context = Depends(get_ctx)) -> Response:
    await sessions.set_active(ctx, user_id, False)
    return Response(status_code=204)


@router.post(
    "/users/{user_id}/reactivate",
    status_code=204,
    summary="Let a deactivated account log in again",
    **roles_doc(Role.OPERATOR, errors=(404, 422)),
)
async def reactivate(user_id: Id, _: Principal = OperatorOnly, ctx: Context = Depends(get_ctx)) -> Response:
    await sessions.set_active(ctx, user_id, True)
    return Response(status_code=204)


@router.post(
    "/auth/login",
    response_model=TokenOut,
    summary="Log in and get a bearer token",
    description="Failed log-ins slow an e-mail address down, then lock it: 429 `login_locked` with "
    "`Retry-After`, alike whether or not an account has that address. Too many attempts: 429 "
    "`rate_limited`.",
    **public_doc(401, 422, 429, 503),
)
async def login(body: LoginIn, request: Request, ctx: Context = Depends(get_ctx)) -> AccessGrant:
    async with ctx.limits.login_attempt(ctx.clock, email=body.email, address=address_of(request)):
        return await accounts.log_in(ctx, email=body.email, password=body.password)


@router.get(
    "/me",
    response_model=UserOut,
    summary="The calling account",
    **duty_doc(Duty.OWN_ACCOUNT),
)
async def me(who: Principal = AnyUser, ctx: Context = Depends(get_ctx)) -> User:
    return await accounts.get_user(ctx, who.user_id)


@router.post(
    "/users",
    status_code=201,
    response_model=UserOut,
    summary="Create an operator, supplier or buyer account",
    **roles_doc(Role.OPERATOR, errors=(404, 409, 422)),
)
async def create_user(body: StaffIn, _: Principal = OperatorOnly, ctx: Context = Depends(get_ctx)) -> User:
    return await accounts.register(
        ctx,
        email=body.email,
        password=body.password,
        name=body.name,
        role=body.role,
        supplier_id=body.supplier_id,
    )


@router.get("/users", response_model=list[UserOut], summary="List accounts", **roles_doc(Role.OPERATOR))
async def list_users(
    role: Role | None = None, _: Principal = OperatorOnly, ctx: Context = Depends(get_ctx)
) -> list[User]:
    return await accounts.list_users(ctx, role)
