"""The partner feed benchmark runs end to end on a small load (orders through the buy path, a real
worker process, with the SQL outbox and with NATS) and its audit holds."""

from __future__ import annotations

import uuid

import pytest

from flashport.bench import partner_feed
from flashport.services.context import Context
from tests.nats_bus import bus_settings


@pytest.mark.parametrize("bus", ["sql", "nats"])
async def test_a_small_partner_feed_run_delivers_every_event_once(ctx: Context, bus: str) -> None:
    settings = ctx.settings
    if bus == "nats":
        settings = settings.model_copy(update=bus_settings(uuid.uuid4().hex[:10]))  # deleted by the run
    run = await partner_feed.run(settings, rate=100, seconds=0.5)
    assert run.orders >= 40
    assert run.deliveries_expected == run.orders * partner_feed.EVENTS_PER_ORDER
    assert (run.missing, run.duplicates) == (0, 0)
    assert 0 < run.commit_to_delivery_p50_ms <= run.commit_to_delivery_p99_ms


async def test_a_run_with_its_orders_bought_by_two_processes_delivers_every_event_once(ctx: Context) -> None:
    if ctx.settings.is_sqlite:
        pytest.skip("SQLite has one writer: two buying processes only take turns")
    run = await partner_feed.run(ctx.settings, rate=100, seconds=0.5, processes=2)
    assert run.orders >= 40
    assert (run.missing, run.duplicates) == (0, 0)
