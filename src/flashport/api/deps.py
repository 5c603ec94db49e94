"""Request dependencies: the service context and the caller's identity."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from flashport.api.errors import error_responses
from flashport.domain.access import Duty, roles_for
from flashport.domain.accounts import Principal, Role
from flashport.domain.errors import Unauthenticated
from flashport.services.accounts.sessions import check_standing
from flashport.services.accounts.tokens import verify_token
from flashport.services.context import Context

_bearer = HTTPBearer(auto_error=False, description="Token from POST /api/v1/auth/login")


# Both dependencies are ``async def`` on purpose: FastAPI runs plain ``def`` dependencies in a thread
# pool, and two thread hops per request were the largest single cost of the buy path.
async def get_ctx(request: Request) -> Context:
    ctx: Context = request.app.state.ctx
    return ctx


async def principal(
    request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(_bearer)
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthenticated("this endpoint needs a bearer token", code="missing_token")
    ctx = request.app.state.ctx
    who = verify_token(ctx.settings, credentials.credentials, ctx.clock(), ctx.sessions)
    await check_standing(ctx, who)
    return who


def require(*roles: Role) -> Callable[..., Awaitable[Principal]]:
    async def dependency(who: Principal = Depends(principal)) -> Principal:
        who.require(*roles)
        return who

    return dependency


def roles_doc(*roles: Role, errors: tuple[int, ...] = ()) -> dict[str, Any]:
    """Route-decorator arguments stating who may call it (``x-roles`` in OpenAPI) and its errors."""
    return {
        "openapi_extra": {"x-roles": [r.value for r in roles]},
        "responses": error_responses(401, 403, *errors),
    }


def public_doc(*errors: int) -> dict[str, Any]:
    return {"openapi_extra": {"x-roles": ["public"]}, "responses": error_responses(*errors)}


def duty_doc(duty: Duty, errors: tuple[int, ...] = ()) -> dict[str, Any]:
    """``roles_doc`` for the roles that hold ``duty`` in the access table (domain/access.py)."""
    return roles_doc(*roles_for(duty), errors=errors)


def staff(duty: Duty) -> Any:
    """The dependency that lets through the roles holding ``duty``, and refuses others with 403."""
    return Depends(require(*roles_for(duty)))


OperatorOnly = staff(Duty.PLATFORM)
CatalogStaff = staff(Duty.CATALOG)
CatalogManager = staff(Duty.OWN_CATALOG)  # staff, and a supplier user for its own catalog
EventStaff = staff(Duty.EVENTS)
LiveSaleStaff = staff(Duty.LIVE_SALE)
OrderStaff = staff(Duty.ORDERS)
RefundStaff = staff(Duty.REFUNDS)
CustomsStaff = staff(Duty.CUSTOMS)
AuditStaff = staff(Duty.AUDIT)
SupplierPortal = staff(Duty.OWN_SALES)
BuyerOnly = Depends(require(Role.BUYER))
AnyUser = Depends(principal)  # every role: Duty.OWN_ACCOUNT
