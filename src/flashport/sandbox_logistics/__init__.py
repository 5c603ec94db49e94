"""Sandbox Logistics: a carrier that declares its waybills to customs, for development, tests and the
demo.

The platform asks it for a waybill per parcel over a small JSON API (``/v1/waybills``, see
``docs/sandbox-logistics.md``); the carrier gives it a waybill number (and for direct import the flight
and master air waybill) and declares the waybill to the single window as a CEB511, as a real carrier
must, so customs can match waybill, order, payment and inventory list. ``/sandbox/faults`` makes the
next CEB511 of an order wrong on purpose. Its record is ``<data_dir>/sandbox-logistics/waybills.sqlite3``.

Mounted in another Starlette/FastAPI app, whose lifespan must enter the sandbox's (Starlette runs only
the outer app's)::

    logistics = create_logistics_app(LogisticsSimSettings(data_dir=settings.data_dir))
    app.mount("/sandbox/logistics", logistics)
    # inside the host's lifespan:
    async with logistics.router.lifespan_context(logistics):
        yield
"""

from flashport.sandbox_logistics.app import create_logistics_app
from flashport.sandbox_logistics.settings import LogisticsSimSettings

__all__ = ["LogisticsSimSettings", "create_logistics_app"]
