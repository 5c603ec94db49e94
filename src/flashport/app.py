"""The ASGI application factory. Engines and clients are built in the lifespan, not at import."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

from fastapi import FastAPI

from flashport import __version__, task_dump, web
from flashport.adapters import log_context, metrics
from flashport.api import access_doc, docs, errors, openapi_errors
from flashport.api.buy import edge
from flashport.api.buy.fast_lane import BuyFastLane
from flashport.api.guards import RequestHygiene, SecurityHeaders
from flashport.api.observability import Observed
from flashport.api.queue_lane import QueueFastLane
from flashport.api.routes import (
    accounts,
    aftersales,
    basket,
    catalog,
    compliance,
    console,
    declarations,
    desk,
    health,
    orders,
    outbox,
    payments,
    supplier_portal,
    tax_rules,
    tracking,
    waiting_room,
    withholding,
)
from flashport.api.routes import metrics as metrics_routes
from flashport.api.routes import notifications as notification_routes
from flashport.api.routes import partners as partner_routes
from flashport.api.routes import sales as events
from flashport.bootstrap import build_context, close_context
from flashport.services.context import Context
from flashport.services.sales.board import SaleBoard
from flashport.settings import Settings, load_settings

DESCRIPTION = """Flashport's HTTP API: catalog, flash-sale events, accounts and the event log.

Authenticate with `Authorization: Bearer <token>` from `POST /api/v1/auth/login`. Each operation lists
the roles allowed to call it under `x-roles` (`public` needs no token). Every error has the same shape:
`{"code", "message", "details": [{"field", "message"}]}`. On every operation: a body over the route's cap is
413 `payload_too_large`; a control character in the path or query string is 422 `invalid_characters`,
and in a body field 422 `validation_error` (see docs/security.md).
"""


def create_app(
    settings: Settings | None = None, ctx: Context | None = None, *, fast_lane: bool | None = None
) -> FastAPI:
    """Build the app. Pass ``ctx`` to share an already-built context (tests); otherwise the lifespan
    builds one from ``settings`` and disposes of it on shutdown. ``fast_lane`` overrides the
    ``buy_fast_lane`` setting (the tests run the buy path through both lanes)."""
    chosen = ctx.settings if ctx is not None else (settings or load_settings())
    served = settings is None and ctx is None  # built by `flashport serve` in each of its processes
    if served:
        log_context.configure(chosen.log_level, chosen.log_format)

    sandboxes = _sandboxes(chosen)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
        # The yielded dict is the ASGI lifespan state: uvicorn hands it to each connection, which is
        # how the buy edge (api/buy/edge.py) finds the context without going through the app.
        async with AsyncExitStack() as stack:
            for sandbox in sandboxes.values():  # Starlette does not run a mounted app's lifespan itself
                await stack.enter_async_context(sandbox.router.lifespan_context(sandbox))
            if ctx is not None:
                app.state.ctx = ctx
                yield {edge.CONTEXT_KEY: ctx}
                return
            own = await build_context(chosen)
            app.state.ctx = own
            stack.push_async_callback(close_context, own)
            own.sessions.start(own.clock)
            task_dump.install(asyncio.get_running_loop())
            if served:  # a process of its own (a test's process keeps the collector as it was)
                _tune_the_collector()
            yield {edge.CONTEXT_KEY: own}

    app = FastAPI(
        title="Flashport",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # served from the package by api/docs.py: no CDN
        redoc_url=None,
    )
    if ctx is not None:
        app.state.ctx = ctx
    app.state.board = SaleBoard()
    errors.install(app)
    if chosen.buy_fast_lane if fast_lane is None else fast_lane:
        app.add_middleware(BuyFastLane, owner=app)
        app.add_middleware(QueueFastLane, owner=app)  # a waiting room's join and poll, likewise
    # The buy path first: routes are matched in order, and it is the one under a rush.
    for module in (
        orders,
        health,
        accounts,
        catalog,
        events,
        console,
        desk,
        outbox,
        payments,
        compliance,
        declarations,
        supplier_portal,
        withholding,
        tax_rules,
        tracking,
        aftersales,
        notification_routes,
        basket,
        waiting_room,
    ):
        app.include_router(module.router)
    app.include_router(partner_routes.router)
    if chosen.metrics:
        app.include_router(metrics_routes.router)
    app.webhooks.include_router(partner_routes.webhooks_doc)  # the webhook payload, in OpenAPI
    docs.install(app)
    access_doc.install(app)  # the roles in each operation's description
    openapi_errors.install(app)
    web.install(app)
    for path, sandbox in sandboxes.items():
        app.mount(path, sandbox)
    # Outermost, so they see every request and answer (the fast lane's purchases included).
    app.add_middleware(RequestHygiene)
    app.add_middleware(SecurityHeaders, hsts=chosen.env == "production")
    metrics.configure(chosen.metrics)
    app.add_middleware(Observed)  # outermost: request ids and timings cover everything inside
    return app


SANDBOX_PATH = "/sandbox/alipay"
CUSTOMS_SIM_PATH = "/sandbox/customs"
LOGISTICS_SIM_PATH = "/sandbox/logistics"


def _sandboxes(settings: Settings) -> dict[str, Any]:
    """The partners' sandboxes the demo serves inside the platform (each can run on its own port):
    the payment provider, the customs single window and the carrier."""
    mounted: dict[str, Any] = {}
    if settings.sandbox_pay_mounted:
        from flashport.sandbox_pay.app import create_sandbox_app
        from flashport.sandbox_pay.settings import SandboxSettings

        mounted[SANDBOX_PATH] = create_sandbox_app(
            SandboxSettings(
                data_dir=settings.data_dir,
                customs_url=settings.customs_url,
                # It takes refunds from its partner feed here, with the key the demo put in its folder.
                platform_url=settings.public_url if settings.payment_refunds == "feed" else None,
            )
        )
    if settings.sandbox_customs_mounted:
        from flashport.adapters.customs.signer_file import load_or_create_signer
        from flashport.sandbox_customs import CustomsSimSettings, create_customs_app

        # The single window trusts only registered certificates: the demo registers the platform's
        # own (made here if it is not yet) to the agent that declares its inventory lists.
        key = settings.customs_signing_key or settings.data_dir / "customs" / "signing-key.pem"
        load_or_create_signer(key, settings.customs_platform_name)
        registered = [f"platform:{settings.customs_agent_code}:{key}"]
        mounted[CUSTOMS_SIM_PATH] = create_customs_app(
            CustomsSimSettings(data_dir=settings.data_dir, certificates=registered)
        )
    if settings.sandbox_logistics_mounted:
        from flashport.sandbox_logistics import LogisticsSimSettings, create_logistics_app

        mounted[LOGISTICS_SIM_PATH] = create_logistics_app(
            LogisticsSimSettings(
                data_dir=settings.data_dir,
                customs_url=settings.customs_url,
                api_key=settings.logistics_api_key,
                # It follows its partner feed here, with the key the demo put in its folder.
                platform_url=settings.public_url if settings.logistics_handover == "feed" else None,
            )
        )
    return mounted


# Young objects collected every 7,000 allocations rather than Python's 700: a purchase allocates a few
# hundred objects, nearly all freed by reference counting before a collection would look at them.
GC_YOUNG_THRESHOLD = 7000


def _tune_the_collector() -> None:
    """For a served process: what it built before its first request (modules, routes, schemas, the
    context: most of its heap, all long-lived) is moved out of the collector's reach (``gc.freeze``),
    so the full collections a rush triggers scan only what requests made, and young collections run
    less often. Measured with the record benchmark (README, "The record benchmark"): the buy p99 fell
    from about 190 ms to under 60 (full collections of the whole heap took 75-125 ms each)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, 10, 10)
