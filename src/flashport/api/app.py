"""The ASGI application factory. Engines and clients are built in the lifespan, not at import."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from flashport import __version__, web
from flashport.api import errors
from flashport.api.fast_lane import BuyFastLane
from flashport.api.routes import accounts, catalog, events, health, orders, outbox
from flashport.bootstrap import build_context, close_context
from flashport.services.context import Context
from flashport.settings import Settings, load_settings

DESCRIPTION = """Flashport's HTTP API: catalog, flash-sale events, accounts and the event log.

Authenticate with `Authorization: Bearer <token>` from `POST /api/v1/auth/login`. Each operation lists
the roles allowed to call it under `x-roles` (`public` needs no token). Every error has the same shape:
`{"code", "message", "details": [{"field", "message"}]}`.
"""


def create_app(
    settings: Settings | None = None, ctx: Context | None = None, *, fast_lane: bool | None = None
) -> FastAPI:
    """Build the app. Pass ``ctx`` to share an already-built context (tests); otherwise the lifespan
    builds one from ``settings`` and disposes of it on shutdown. ``fast_lane`` overrides the
    ``buy_fast_lane`` setting (the tests run the buy path through both lanes)."""
    chosen = ctx.settings if ctx is not None else (settings or load_settings())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if ctx is not None:
            app.state.ctx = ctx
            yield
            return
        own = await build_context(chosen)
        app.state.ctx = own
        try:
            yield
        finally:
            await close_context(own)

    app = FastAPI(title="Flashport", version=__version__, description=DESCRIPTION, lifespan=lifespan)
    if ctx is not None:
        app.state.ctx = ctx
    errors.install(app)
    if chosen.buy_fast_lane if fast_lane is None else fast_lane:
        app.add_middleware(BuyFastLane, owner=app)
    # The buy path first: routes are matched in order, and it is the one under a rush.
    for module in (orders, health, accounts, catalog, events, outbox):
        app.include_router(module.router)
    web.install(app)
    return app
