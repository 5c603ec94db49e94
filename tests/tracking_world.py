"""The four parties on loopback ports for parcel tracking and after-sales: the platform (its back
office run by the tests), the payment sandbox, the single window and the sandbox carrier, enrolled as
the platform's carrier partner with its key and reporting its scans to the platform's partner API."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import sqlalchemy as sa

from flashport.adapters.db.engine import create_engine
from flashport.adapters.db.schema import orders, outbox
from flashport.app import create_app
from flashport.bootstrap import build_context, close_context
from flashport.domain.accounts import Principal, Role
from flashport.domain.partners import PartnerKind
from flashport.sandbox_customs import CustomsSimSettings, create_customs_app
from flashport.sandbox_logistics import LogisticsSimSettings, create_logistics_app
from flashport.sandbox_pay.app import create_sandbox_app
from flashport.sandbox_pay.settings import SandboxSettings
from flashport.services.accounts.tokens import issue_token
from flashport.services.customs import documents
from flashport.services.partners import enrolment
from flashport.settings import Settings
from flashport.web import session as web_session
from tests.conftest import _empty_all_tables
from tests.factories import make_user
from tests.integration.test_declarations import LOGISTICS_KEY, Parties
from tests.servers import bound_socket, serving
from tests.waiting import HTTP_TIMEOUT

JOURNEY = ["declared", "released", "picked", "handed_over", "in_transit", "delivered"]


@dataclass
class Tracking:
    parties: Parties
    platform_url: str
    carrier_key: str
    carrier_settings: LogisticsSimSettings

    async def shipped_order(self) -> tuple[str, str, str]:
        """(order_no, logistics_no, the buyer's token) of an order customs released and the carrier has."""
        order_no = await self.parties.paid_order()
        await self.parties.work_until(order_no, "shipped")
        detail = await self.parties.detail(order_no)
        return order_no, str(detail["logistics_no"]), await self.buyer_token(order_no)

    async def buyer_token(self, order_no: str) -> str:
        """An API token of the order's buyer."""
        async with self.parties.ctx.read() as conn:
            buyer_id = await conn.scalar(sa.select(orders.c.buyer_id).where(orders.c.order_no == order_no))
        ctx = self.parties.ctx
        return issue_token(ctx.settings, Principal(int(buyer_id), Role.BUYER), ctx.clock())

    async def order_page(self, order_no: str, language: str) -> str:
        """The order page as its buyer reads it in ``language`` (the Accept-Language of the browser)."""
        async with self.parties.ctx.read() as conn:
            buyer_id = await conn.scalar(sa.select(orders.c.buyer_id).where(orders.c.order_no == order_no))
        data = {"uid": int(buyer_id), "role": "buyer", "name": "Test Buyer", "csrf": "csrf"}
        cookie = web_session.encode(data, self.parties.ctx.settings.keys.secret, 3600)
        async with httpx.AsyncClient(base_url=self.platform_url, timeout=HTTP_TIMEOUT) as browser:
            page = await browser.get(
                f"/orders/{order_no}",
                headers={"accept-language": language, "cookie": f"{web_session.COOKIE}={cookie}"},
            )
        assert page.status_code == 200, page.text[:500]
        return page.text

    async def shipment(self, order_no: str, token: str) -> dict[str, Any]:
        answer = await self.parties.platform.get(
            f"/api/v1/orders/{order_no}/shipment", headers={"authorization": f"Bearer {token}"}
        )
        assert answer.status_code == 200, answer.text
        return dict(answer.json())

    async def milestone_events(self, order_no: str) -> list[dict[str, Any]]:
        async with self.parties.ctx.read() as conn:
            rows = await conn.execute(
                sa.select(outbox.c.type, outbox.c.payload)
                .where(outbox.c.subject == f"order:{order_no}", outbox.c.type.like("shipment.%"))
                .order_by(outbox.c.id)
            )
            return [{"type": r.type, **r.payload} for r in rows]

    async def scan(self, logistics_no: str, milestone: str) -> httpx.Response:
        return await self.parties.carrier.post(
            f"/v1/waybills/{logistics_no}/milestones", json={"milestone": milestone}
        )

    def report(self, logistics_no: str, body: dict[str, Any], key: str | None) -> Any:
        headers = {"x-api-key": key} if key else {}
        return self.parties.platform.post(
            f"/api/v1/partner/shipments/{logistics_no}/milestones",
            json=body,
            headers={"authorization": "", **headers},
        )


@contextlib.asynccontextmanager
async def tracking_world(
    database_settings: Settings, *, hold_release: bool = False
) -> AsyncIterator[Tracking]:
    """``hold_release``: the single window keeps matched lists accepted until its officer releases them
    (``POST /admin/declarations/{order_no}/release``), as withdrawals (CEB623) need."""
    socks = {name: bound_socket() for name in ("platform", "pay", "customs", "carrier")}
    ports = {name: sock.getsockname()[1] for name, sock in socks.items()}
    url = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    settings = database_settings.model_copy(
        update={
            "payment_gateway_url": f"{url['pay']}/gateway.do",
            "payment_notify_url": f"{url['platform']}/api/v1/payments/alipay/notify",
            "payment_return_url": f"{url['platform']}/orders",
            "customs_url": url["customs"],
            "logistics_url": url["carrier"],
            "logistics_api_key": LOGISTICS_KEY,
        }
    )
    engine = create_engine(settings)
    await _empty_all_tables(engine)
    await engine.dispose()
    sim_dir = settings.data_dir / f"tracking-{ports['customs']}"
    ctx = await build_context(settings)
    documents.signer(ctx)
    key_file = settings.customs_signing_key or settings.data_dir / "customs" / "signing-key.pem"
    registered = [f"platform:{settings.customs_agent_code}:{key_file}"]
    code = LogisticsSimSettings().customs_code
    _, carrier_key = await enrolment.enrol(
        ctx, name="Sandbox carrier", kind=PartnerKind.CARRIER, logistics_code=code
    )
    carrier_settings = LogisticsSimSettings(
        data_dir=sim_dir,
        customs_url=url["customs"],
        api_key=LOGISTICS_KEY,
        platform_url=url["platform"],
        partner_key=carrier_key,
        feed_poll_seconds=0.2,
        declare_retry_seconds=0.2,
    )
    apps: dict[str, Any] = {
        "platform": create_app(ctx=ctx),
        "pay": create_sandbox_app(
            SandboxSettings(
                data_dir=settings.data_dir, notify_schedule=[0.2, 0.4], customs_url=url["customs"]
            )
        ),
        "customs": create_customs_app(
            CustomsSimSettings(data_dir=sim_dir, certificates=registered, hold_release=hold_release)
        ),
        "carrier": create_logistics_app(carrier_settings),
    }
    _, token = await make_user(ctx, Role.OPERATOR)
    try:
        async with contextlib.AsyncExitStack() as stack:
            for name in ("customs", "carrier", "pay", "platform"):
                await stack.enter_async_context(serving(apps[name], sock=socks[name]))
            clients = {
                name: await stack.enter_async_context(
                    httpx.AsyncClient(timeout=HTTP_TIMEOUT, base_url=url[name], headers=headers)
                )
                for name, headers in (
                    ("platform", {"authorization": f"Bearer {token}"}),
                    ("pay", {}),
                    ("customs", {}),
                    ("carrier", {"authorization": f"Bearer {LOGISTICS_KEY}"}),
                )
            }
            parties = Parties(
                ctx, clients["platform"], clients["pay"], clients["customs"], clients["carrier"]
            )
            yield Tracking(parties, url["platform"], carrier_key, carrier_settings)
    finally:
        await close_context(ctx)
