"""The sandbox carrier as a real partner of the platform, over real HTTP on loopback ports: the
platform asks it for many waybills in one request (one CEB511 for them), and with
``logistics_handover`` "feed" it learns of every parcel released to it from its partner feed (pull,
with a cursor, a page at a time) instead of one call per parcel: each parcel is taken over once,
and a consumer restarted in the middle of a page does nothing twice."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from starlette.applications import Starlette

from flashport.adapters.db.engine import create_engine
from flashport.adapters.db.partners_schema import partner_events
from flashport.adapters.db.schema import customs_messages, declarations, outbox
from flashport.app import create_app
from flashport.bootstrap import build_context, close_context
from flashport.domain.accounts import Role
from flashport.domain.partners import PartnerKind
from flashport.sandbox_customs import CustomsSimSettings, create_customs_app
from flashport.sandbox_logistics import LogisticsSimSettings, create_logistics_app
from flashport.sandbox_logistics.carrier import Carrier
from flashport.sandbox_logistics.feed import FeedConsumer
from flashport.sandbox_logistics.store import WaybillStore
from flashport.sandbox_logistics.tables import tracking_events
from flashport.sandbox_pay.app import create_sandbox_app
from flashport.sandbox_pay.settings import SandboxSettings
from flashport.services.customs import declaring, documents
from flashport.services.partners import enrolment, relay
from flashport.settings import Settings
from tests.conftest import _empty_all_tables
from tests.factories import make_user
from tests.integration.test_declarations import LOGISTICS_KEY, Parties
from tests.servers import bound_socket, serving
from tests.waiting import HTTP_TIMEOUT, eventually

RECEIVED = "Parcel received from the platform"


@dataclass
class FeedWorld:
    parties: Parties
    carrier_app: Starlette
    platform_url: str
    key: str

    @property
    def carrier(self) -> Carrier:
        carrier: Carrier = self.carrier_app.state.carrier
        return carrier

    @property
    def store(self) -> WaybillStore:
        store: WaybillStore = self.carrier_app.state.store
        return store

    def consumer(self) -> FeedConsumer:
        """A consumer of the carrier's feed, as the carrier's process starts one."""
        return FeedConsumer(self.carrier, self.store, self.platform_url, self.key, page_size=2)

    async def received(self) -> dict[str, int]:
        """Per waybill, how many times the carrier took its parcel over."""
        async with self.store.transaction() as records:
            rows = await records._conn.execute(
                sa.select(tracking_events.c.logistics_no, sa.func.count())
                .where(tracking_events.c.description == RECEIVED)
                .group_by(tracking_events.c.logistics_no)
            )
            return {str(no): int(n) for no, n in rows}

    async def logistics_nos(self, order_nos: list[str]) -> dict[str, str]:
        async with self.parties.ctx.read() as conn:
            rows = await conn.execute(
                sa.select(declarations.c.order_no, declarations.c.logistics_no).where(
                    declarations.c.order_no.in_(order_nos)
                )
            )
            return {str(o): str(n) for o, n in rows}


@pytest.fixture
async def world(database_settings: Settings) -> AsyncIterator[FeedWorld]:
    """The four parties on loopback ports, the platform handing parcels over by feed, and the carrier
    enrolled as a partner (its feed consumer started by each test, so each test decides when)."""
    # Bound now and kept until each server takes its socket: no other process can take the port between.
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
            "logistics_handover": "feed",
        }
    )
    engine = create_engine(settings)
    await _empty_all_tables(engine)
    await engine.dispose()
    sim_dir = settings.data_dir / f"feed-{ports['customs']}"
    ctx = await build_context(settings)
    documents.signer(ctx)  # made now, so the single window can register its certificate
    key_file = settings.customs_signing_key or settings.data_dir / "customs" / "signing-key.pem"
    registered = [f"platform:{settings.customs_agent_code}:{key_file}"]
    carrier_settings = LogisticsSimSettings(
        data_dir=sim_dir, customs_url=url["customs"], api_key=LOGISTICS_KEY
    )
    _, key = await enrolment.enrol(
        ctx, name="Sandbox carrier", kind=PartnerKind.CARRIER, logistics_code=carrier_settings.customs_code
    )
    apps: dict[str, Any] = {
        "platform": create_app(ctx=ctx),
        "pay": create_sandbox_app(
            SandboxSettings(
                data_dir=settings.data_dir, notify_schedule=[0.2, 0.4], customs_url=url["customs"]
            )
        ),
        "customs": create_customs_app(CustomsSimSettings(data_dir=sim_dir, certificates=registered)),
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
            yield FeedWorld(parties, apps["carrier"], url["platform"], key)
    finally:
        await close_context(ctx)


async def _in_feed(world: FeedWorld, count: int) -> None:
    """Wait until the relay has put ``count`` handed-over parcels in the carrier's feed (on PostgreSQL
    an outbox record is relayed once every transaction before it has settled)."""

    async def relayed() -> bool:
        await relay.relay_all(world.parties.ctx)
        async with world.parties.ctx.read() as conn:
            found = await conn.scalar(
                sa.select(sa.func.count())
                .select_from(partner_events)
                .where(partner_events.c.type == "order.shipped")
            )
        return int(found or 0) >= count

    await eventually(relayed, what=f"{count} order.shipped events in the carrier's feed")


async def _declared(world: FeedWorld, count: int) -> list[str]:
    order_nos = [await world.parties.paid_order() for _ in range(count)]
    assert await declaring.declare_pending(world.parties.ctx) == count
    return order_nos


async def test_the_carrier_files_the_waybills_of_many_orders_in_one_ceb511_once(world: FeedWorld) -> None:
    order_nos = await _declared(world, 3)
    async with world.parties.ctx.read() as conn:
        kept = (
            await conn.execute(
                sa.select(customs_messages.c.batch_id, customs_messages.c.declaration_id).where(
                    customs_messages.c.kind == "CEB511"
                )
            )
        ).all()
    assert sorted(row.declaration_id for row in kept).__len__() == 3  # each waybill's document kept once
    numbers = await world.logistics_nos(order_nos)
    sent_in = set()
    for number in numbers.values():
        waybill = (await world.parties.carrier.get(f"/v1/waybills/{number}")).json()
        assert waybill["declared"] and waybill["status"] == "created"
        sent_in.add(waybill["declaration"]["sent_in"])
    assert len(sent_in) == 1  # the carrier declared the three in one CEB511
    # Asked again (a worker that died before recording the answer): the same waybills, nothing new.
    again = await world.parties.carrier.post(
        "/v1/waybills/batch",
        json={"waybills": [_body(o) for o in order_nos]},
    )
    assert again.status_code == 200, again.text
    assert [w["logistics_no"] for w in again.json()["waybills"]] == [numbers[o] for o in order_nos]
    assert all(len(w["events"]) == 1 for w in again.json()["waybills"])


def _body(order_no: str) -> dict[str, Any]:
    return {
        "order_no": order_no,
        "platform_code": "3105960FP1",
        "platform_name": "Flashport",
        "trade_mode": "1210",
        "consignee": {"name": "王伟", "telephone": "13800138000", "address": "上海市浦东新区世纪大道100号"},
        "weight_kg": "0.500",
    }


async def test_a_batch_with_one_bad_parcel_is_refused_whole(world: FeedWorld) -> None:
    bad = {**_body("FP-BAD"), "weight_kg": 0.5}  # a float: refused
    answer = await world.parties.carrier.post("/v1/waybills/batch", json={"waybills": [_body("FP-OK"), bad]})
    assert answer.status_code == 422 and "weight_kg" in answer.json()["message"]
    missing = await world.parties.carrier.get("/v1/waybills/batch")  # nothing was made for FP-OK
    assert missing.status_code in (404, 405)


async def test_the_carrier_takes_released_parcels_from_its_feed_once(world: FeedWorld) -> None:
    order_nos = [await world.parties.paid_order() for _ in range(3)]
    for order_no in order_nos:
        await world.parties.work_until(order_no, "shipped")
    async with world.parties.ctx.read() as conn:
        statuses = (
            await conn.scalars(
                sa.select(outbox.c.payload["carrier_status"].as_string()).where(
                    outbox.c.type == "order.shipped"
                )
            )
        ).all()
    assert statuses == ["handed_over"] * 3  # no call to the carrier: it learns from its feed
    await _in_feed(world, 3)
    numbers = await world.logistics_nos(order_nos)
    consumer = world.consumer()
    try:
        while (await consumer.consume_page())[1]:
            pass
        await consumer.consume_page()
        assert await world.received() == {n: 1 for n in numbers.values()}
        for number in numbers.values():
            assert (await world.parties.carrier.get(f"/v1/waybills/{number}")).json()[
                "status"
            ] == "in_transit"
        assert await consumer.consume_page() == (0, False)  # read again: nothing new, nothing twice
        assert await world.received() == {n: 1 for n in numbers.values()}
    finally:
        await consumer.close()


async def test_a_consumer_restarted_in_the_middle_of_a_page_takes_nothing_twice(
    world: FeedWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    order_nos = [await world.parties.paid_order() for _ in range(2)]
    for order_no in order_nos:
        await world.parties.work_until(order_no, "shipped")
    await _in_feed(world, 2)
    numbers = await world.logistics_nos(order_nos)
    real_take_over = Carrier.take_over

    async def dies_after_the_first(self: Carrier, records: Any, nos: list[str], now: Any) -> int:
        await real_take_over(self, records, nos[:1], now)
        raise RuntimeError("killed in the middle of the page")

    monkeypatch.setattr(Carrier, "take_over", dies_after_the_first)
    dying = world.consumer()
    try:
        with pytest.raises(RuntimeError):
            await dying.consume_page()
    finally:
        await dying.close()
    assert await world.received() == {}  # the page's work and its cursor went together: neither
    monkeypatch.setattr(Carrier, "take_over", real_take_over)

    restarted = world.consumer()  # a new process: from the stored cursor
    try:
        while (await restarted.consume_page())[1]:
            pass
        assert await world.received() == {n: 1 for n in numbers.values()}
    finally:
        await restarted.close()


async def test_the_carrier_app_follows_its_feed_on_its_own(
    world: FeedWorld, database_settings: Settings
) -> None:
    """The carrier's own process: with a platform address and a key, its lifespan runs the consumer."""
    order_no = await world.parties.paid_order()
    await world.parties.work_until(order_no, "shipped")
    await _in_feed(world, 1)
    number = (await world.logistics_nos([order_no]))[order_no]
    carrier_settings: LogisticsSimSettings = world.carrier_app.state.settings
    following = create_logistics_app(
        carrier_settings.model_copy(
            update={"platform_url": world.platform_url, "partner_key": world.key, "feed_poll_seconds": 0.05}
        )
    )
    async with serving(following):

        async def in_transit() -> bool:
            return await world.received() == {number: 1}

        await eventually(in_transit, what="the carrier took the parcel over from its feed")
