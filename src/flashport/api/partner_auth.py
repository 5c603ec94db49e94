"""Partner authentication: an API key (``fpk_...``) as ``Authorization: Bearer`` or ``X-Api-Key``."""

from __future__ import annotations

from typing import Any

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from flashport.api.errors import error_responses
from flashport.domain.errors import Forbidden, Unauthenticated
from flashport.domain.partners import KEY_PREFIX, Partner
from flashport.services.accounts.tokens import verify_token
from flashport.services.partners import keys

_bearer = HTTPBearer(auto_error=False, description="A partner API key (fpk_...) or a user token")
_api_key = APIKeyHeader(name="X-Api-Key", auto_error=False, description="A partner API key (fpk_...)")


async def partner(
    request: Request,
    credentials: HTTPAuthorizationCredentials | None = Depends(_bearer),
    api_key: str | None = Depends(_api_key),
) -> Partner:
    ctx = request.app.state.ctx
    bearer = credentials.credentials if credentials and credentials.scheme.lower() == "bearer" else None
    key = api_key or bearer
    if not key:
        raise Unauthenticated("this endpoint needs a partner API key", code="missing_token")
    if not key.startswith(KEY_PREFIX):
        # A user's token: valid ones are refused as the wrong kind of caller, the rest as invalid.
        verify_token(ctx.settings, key, ctx.clock(), ctx.sessions)
        raise Forbidden("this endpoint is for partners, with an API key", code="forbidden_role")
    return await keys.authenticate(ctx, key)


PartnerOnly = Depends(partner)


def partner_doc(*errors: int) -> dict[str, Any]:
    return {"openapi_extra": {"x-roles": ["partner"]}, "responses": error_responses(401, 403, *errors)}
