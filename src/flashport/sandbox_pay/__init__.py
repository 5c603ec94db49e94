"""Sandbox Pay: a payment provider that plays Alipay over real HTTP, for development, tests and the demo.

It serves ``/gateway.do`` (``alipay.trade.page.pay`` with a hosted payment page; ``alipay.trade.query``,
``.refund`` and ``.close``), checks the merchant's RSA2 signatures, signs its answers, and sends signed
notifications to the trade's ``notify_url`` with Alipay-like retries. Like Alipay, a trade opened with
``ext_user_info`` and ``need_check_info`` = ``T`` can be paid only by that person (the page asks who
pays), and notifications carry Alipay's standard fields only: no payer identity.

Keys are made on first start in ``<data_dir>/sandbox-pay/``; outside production the platform's
composition root (``flashport.bootstrap``) asks for them there.

Standalone: ``flashport sandbox-pay --port 8001``. Mounted in another Starlette/FastAPI app, whose
lifespan must enter the sandbox's (Starlette runs only the outer app's)::

    sandbox = create_sandbox_app(SandboxSettings(data_dir=settings.data_dir))
    app.mount("/sandbox-pay", sandbox)
    # inside the host's lifespan:
    async with sandbox.router.lifespan_context(sandbox):
        yield
"""

from flashport.sandbox_pay.app import create_sandbox_app
from flashport.sandbox_pay.keys import SandboxKeys, ensure_keys
from flashport.sandbox_pay.settings import SandboxSettings

__all__ = ["SandboxKeys", "SandboxSettings", "create_sandbox_app", "ensure_keys"]
