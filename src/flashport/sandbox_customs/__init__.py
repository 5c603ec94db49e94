"""Customs simulator: plays China's single window (customs' data-exchange platform) over HTTP, for
development, tests and the demo.

It takes CEB311 orders, CEB411 payment vouchers, CEB511 waybills and signed CEB621 inventory lists from
any sender, checks each against the official XSD (and the CEB621's signature), files it, and runs the
three-document match on every inventory list whose order, payment and waybill are all on file. Its
verdicts are receipts (CEB312/412/512/622) in the sender's DXP inbox, which the platform reads through
:class:`flashport.adapters.customs.gateway.HttpCustomsGateway`. See ``docs/customs-simulator.md``.

Mounted in another Starlette/FastAPI app, whose lifespan must enter the simulator's::

    customs = create_customs_app(CustomsSimSettings(data_dir=settings.data_dir))
    app.mount("/customs-sim", customs)
    # inside the host's lifespan:
    async with customs.router.lifespan_context(customs):
        yield
"""

from flashport.sandbox_customs.app import create_customs_app
from flashport.sandbox_customs.settings import CustomsSimSettings

__all__ = ["CustomsSimSettings", "create_customs_app"]
