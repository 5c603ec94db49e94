"""``flashport bench --rush`` in small (issue 19, point 7): ten buyers a unit through the waiting room
of a served app, some answering a proof-of-work, some sending their purchase twice; the report says
all sold to admitted buyers, none oversold, no 5xx, the pre-queue shuffled and later arrivals in order."""

from __future__ import annotations

import math

from flashport.app import create_app
from flashport.bench.rush import RushPlan, rank_correlation, rush
from flashport.services.context import Context
from tests.servers import serving


def test_rank_correlation_reads_order_and_its_absence() -> None:
    assert rank_correlation([(1, 10), (2, 20), (3, 30), (4, 40)]) == 1.0
    assert rank_correlation([(1, 40), (2, 30), (3, 20), (4, 10)]) == -1.0
    assert rank_correlation([(1, 1), (2, 2)]) is None


async def test_a_small_rush_sells_out_fairly_with_no_oversell_and_no_5xx(buy_ctx: Context) -> None:
    ctx = buy_ctx
    ctx.settings = ctx.settings.model_copy(
        update={"queue_refresh_seconds": 0.05, "queue_challenge_bits": 4, "queue_accounts_per_address": 60}
    )
    plan = RushPlan(
        units=10,
        factor=10,
        # Half the buyers join over the first 80 % of the lead: long enough that on a loaded machine
        # (CI at load average 19 answered joins sent 5 s early only after the start) they are in the
        # pre-queue, so its shuffle has a sample to be judged on.
        lead_seconds=20,
        arrival_seconds=1,
        admit_per_second=40,
        retry_share=1.0,
        timeout_seconds=20,
    )
    async with serving(create_app(ctx=ctx)) as url:
        found = await rush(ctx, url, plan, connections=64)
    lines = dict(found.lines())
    assert found.server_errors == 0 and found.audit.oversold == 0, lines
    assert found.joined == 100 and found.bought == 10, lines
    assert found.challenges > 0 and found.retries_answered == 10, (
        lines
    )  # every buyer who bought sent it twice
    assert found.told_sold_out > 0 and found.sell_out_seconds is not None, lines
    assert found.later_correlation == 1.0, lines  # first come, first served after the start
    # A shuffled pre-queue: its rank correlation with arrival is about normal with sd 1/sqrt(n-1), so a
    # bound of four sd fails a fair shuffle about once in 16,000 runs, and an unshuffled queue (1.0) always.
    assert found.pre_queue_size >= 20 and found.pre_queue_correlation is not None, lines
    assert abs(found.pre_queue_correlation) < 4 / math.sqrt(found.pre_queue_size - 1), lines
    assert found.wait_p99 is not None and found.buy_p99_ms is not None
    assert found.holds
