"""The sandbox carrier as an ASGI app: standalone on its own port, or mounted in the demo.

Its lifespan opens the waybill record and the connection to the single window and starts the
background resending of undelivered CEB511s; on shutdown it stops them in reverse. Starlette does not
run a mounted app's lifespan, so a host that mounts it enters it from its own (see the package
docstring).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import httpx
from starlette.applications import Starlette
from starlette.routing import Route

from flashport.adapters.customs.gateway import HttpCustomsGateway
from flashport.ceb import Sender
from flashport.sandbox_logistics import routes
from flashport.sandbox_logistics.carrier import Carrier
from flashport.sandbox_logistics.database import LogisticsDatabase
from flashport.sandbox_logistics.declarer import Declarer
from flashport.sandbox_logistics.errors import LogisticsRefusal
from flashport.sandbox_logistics.feed import FeedConsumer
from flashport.sandbox_logistics.reports import Reporter
from flashport.sandbox_logistics.settings import LogisticsSimSettings
from flashport.sandbox_logistics.store import WaybillStore

ROUTES = [
    Route("/v1/waybills", routes.create_waybill, methods=["POST"]),
    Route("/v1/waybills/batch", routes.create_waybills, methods=["POST"]),
    Route("/v1/waybills/{logistics_no}", routes.show_waybill, methods=["GET"]),
    Route("/v1/waybills/{logistics_no}/redeclare", routes.redeclare_waybill, methods=["POST"]),
    Route("/v1/waybills/{logistics_no}/dispatch", routes.dispatch_waybill, methods=["POST"]),
    Route("/v1/waybills/{logistics_no}/cancel", routes.cancel_waybill, methods=["POST"]),
    Route("/v1/waybills/{logistics_no}/milestones", routes.scan_waybill, methods=["POST"]),
    Route("/sandbox/faults", routes.plant_fault, methods=["POST"]),
]


def create_logistics_app(
    settings: LogisticsSimSettings | None = None,
    *,
    customs_transport: httpx.AsyncBaseTransport | None = None,
    platform_transport: httpx.AsyncBaseTransport | None = None,
) -> Starlette:
    """The app; nothing is opened until its lifespan runs. ``customs_transport`` routes the CEB511s to
    an in-process single window (tests, the demo) instead of over the network to ``customs_url``;
    ``platform_transport`` does the same for the partner feed it follows (see :mod:`.feed`)."""
    chosen = settings or LogisticsSimSettings()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        database = LogisticsDatabase(chosen.waybills_file)
        await database.start()
        gateway = HttpCustomsGateway(
            chosen.customs_url, timeout=chosen.customs_timeout_seconds, transport=customs_transport
        )
        store = app.state.store = WaybillStore(database)
        declarer = Declarer(
            store,
            gateway,
            _sender(chosen),
            batch_size=chosen.customs_batch_size,
            batch_window=chosen.customs_batch_window_ms / 1000,
        )
        key = chosen.feed_key()
        reporter = app.state.reporter = Reporter(
            store, gateway, chosen.platform_url, key, transport=platform_transport
        )
        carrier = app.state.carrier = Carrier(_sender(chosen), store, declarer, reporter)
        stopping = asyncio.Event()
        tasks = [
            asyncio.create_task(
                declarer.run(chosen.declare_retry_seconds, stopping), name="CEB511 resending"
            ),
            asyncio.create_task(
                reporter.run(chosen.declare_retry_seconds, stopping), name="milestone reports"
            ),
        ]
        consumer = None
        if chosen.platform_url and key:
            consumer = app.state.feed = FeedConsumer(
                carrier,
                store,
                chosen.platform_url,
                key,
                page_size=chosen.feed_page_size,
                transport=platform_transport,
            )
            tasks.append(
                asyncio.create_task(consumer.run(chosen.feed_poll_seconds, stopping), name="partner feed")
            )
        try:
            yield
        finally:
            stopping.set()  # not cancel(): the round in progress finishes its transaction first
            await asyncio.gather(*tasks)
            if consumer is not None:
                await consumer.close()
            await reporter.close()
            app.state.carrier = None
            await gateway.close()
            await database.stop()

    app = Starlette(routes=ROUTES, lifespan=lifespan, exception_handlers={LogisticsRefusal: routes.refusal})
    app.state.settings = chosen
    return app


def _sender(settings: LogisticsSimSettings) -> Sender:
    return Sender(cop_code=settings.customs_code, cop_name=settings.customs_name, dxp_id=settings.dxp_id)
