"""The customs simulator as an ASGI app: standalone on its own port, or mounted in the demo.

Its lifespan compiles the CEB schema once for the process (when validating: a missing schema stops
the start), reads (or makes) the simulator's secret, migrates and opens the record, registers the
certificates of its configuration, and closes the record on shutdown. Starlette does not run a mounted app's
lifespan: a host that mounts it enters it from its own (see the package docstring).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.routing import Route

from flashport.ceb.schema_lock import prepare_signature_schemas
from flashport.ceb.validate import load_schema
from flashport.sandbox_customs import routes
from flashport.sandbox_customs.database import SingleWindowDatabase
from flashport.sandbox_customs.sealing import Sealer, load_secret
from flashport.sandbox_customs.settings import CustomsSimSettings
from flashport.sandbox_customs.single_window import SingleWindow


def create_customs_app(settings: CustomsSimSettings | None = None) -> Starlette:
    chosen = settings or CustomsSimSettings()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # Compiled here, before the first message: a missing schema stops the start, and no request
        # pays for compiling (once per process, under the codec's lock, whichever app starts first).
        if chosen.validate_schema:
            await asyncio.to_thread(load_schema)
        if chosen.verify_signatures:
            await asyncio.to_thread(prepare_signature_schemas)
        sealer = Sealer(await asyncio.to_thread(load_secret, chosen.secret, chosen.secret_file))
        database = SingleWindowDatabase(chosen.database_file, sealer)
        await database.start()
        try:
            app.state.single_window = await SingleWindow.open(database, chosen, sealer)
        except BaseException:
            await database.stop()
            raise
        try:
            yield
        finally:
            app.state.single_window = None
            await database.stop()

    app = Starlette(
        routes=[
            Route("/dxp/messages", routes.post_message, methods=["POST"]),
            Route("/dxp/inbox/{dxp_id}", routes.read_inbox, methods=["GET"]),
            Route("/declarations", routes.list_declarations, methods=["GET"]),
            Route("/declarations/{order_no}", routes.show_declaration, methods=["GET"]),
            Route("/admin/certificates", routes.register_certificate, methods=["POST"]),
            Route("/admin/certificates", routes.list_certificates, methods=["GET"]),
            Route("/admin/tax-bills/summarise", routes.summarise_tax_bills, methods=["POST"]),
            Route("/admin/declarations/{order_no}/release", routes.release_declaration, methods=["POST"]),
        ],
        lifespan=lifespan,
    )
    app.state.settings = chosen
    return app
