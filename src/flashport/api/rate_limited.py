"""Rate limits at the API's doors (``services/rate_limits.py``): the client's address, and a
dependency that takes a token from a buyer's and an address's bucket before the handler runs."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import Depends
from starlette.requests import HTTPConnection

from flashport.api.deps import get_ctx, require
from flashport.domain.accounts import Principal, Role
from flashport.domain.rate_limits import Action
from flashport.services.context import Context


def address_of(connection: HTTPConnection) -> str | None:
    """The client's IP address as the server saw it (behind a trusted proxy, as the proxy said)."""
    client = connection.client
    return client.host if client is not None else None


def buyer_limited(action: Action) -> Callable[..., Awaitable[Principal]]:
    """A dependency standing in for ``BuyerOnly``: the calling buyer, once a token was taken from
    their bucket and their address's for ``action`` (else 429 ``rate_limited`` with Retry-After)."""

    async def dependency(
        request: HTTPConnection,
        who: Principal = Depends(require(Role.BUYER)),
        ctx: Context = Depends(get_ctx),
    ) -> Principal:
        await ctx.limits.check(action, ctx.clock(), account=who.user_id, address=address_of(request))
        return who

    return dependency
