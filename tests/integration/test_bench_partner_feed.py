"""The partner feed benchmark runs end to end on a small load and its audit holds."""

from __future__ import annotations

from flashport.bench import partner_feed
from flashport.services.context import Context


async def test_a_small_partner_feed_run_delivers_every_event_once(ctx: Context) -> None:
    run = await partner_feed.run(ctx.settings, rate=100, seconds=0.5)
    assert run.orders >= 40
    assert run.deliveries_expected == run.orders * partner_feed.EVENTS_PER_ORDER
    assert (run.missing, run.duplicates) == (0, 0)
    assert 0 < run.commit_to_delivery_p50_ms <= run.commit_to_delivery_p99_ms
