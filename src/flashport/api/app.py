"""The ASGI application factory. Engines and clients are built in the lifespan, not at import."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from flashport import __version__
from flashport.adapters.db.engine import create_engine
from flashport.api import errors
from flashport.api.routes import accounts, catalog, events, health, outbox
from flashport.services.context import Context
from flashport.settings import Settings, load_settings

DESCRIPTION = """Flashport's HTTP API: catalog, flash-sale events, accounts and the event log.

Authenticate with `Authorization: Bearer <token>` from `POST /api/v1/auth/login`. Each operation lists
the roles allowed to call it under `x-roles` (`public` needs no token). Every error has the same shape:
`{"code", "message", "details": [{"field", "message"}]}`.
"""


def create_app(settings: Settings | None = None, ctx: Context | None = None) -> FastAPI:
    """Build the app. Pass ``ctx`` to share an already-built context (tests); otherwise the lifespan
    builds one from ``settings`` and disposes of it on shutdown."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if ctx is not None:
            app.state.ctx = ctx
            yield
            return
        own = Context(settings=settings or load_settings(), engine=create_engine(settings or load_settings()))
        app.state.ctx = own
        try:
            yield
        finally:
            await own.engine.dispose()

    app = FastAPI(title="Flashport", version=__version__, description=DESCRIPTION, lifespan=lifespan)
    if ctx is not None:
        app.state.ctx = ctx
    errors.install(app)
    for module in (health, accounts, catalog, events, outbox):
        app.include_router(module.router)
    return app
