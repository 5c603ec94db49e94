"""``flashport bench-expiry``: the sweep it times is the worker's, and its audit catches a broken one."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from flashport.adapters.stock.redis import RedisStockEngine
from flashport.adapters.stock.sql import SqlStockEngine
from flashport.bench import expiry
from flashport.services.context import Context


@pytest.mark.slow
async def test_two_sweepers_expire_every_order_of_the_bench_sale_once_and_return_every_unit(
    buy_ctx: Context,
) -> None:
    result = await expiry.run(buy_ctx.settings, units=300, sweepers=2, window_seconds=1)
    assert result.expired == 300
    assert (result.not_expired, result.events_missing, result.events_duplicated) == (0, 0, 0)
    assert result.units_still_taken == 0
    assert result.passed and result.expired_per_s > 0


async def test_the_audit_fails_a_sweep_that_keeps_the_units(
    buy_ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def keeps_them_within(self: Any, conn: Any, orders: Sequence[Mapping[str, Any]]) -> bool:
        return True  # claims the units went back in the transaction, and returns nothing

    async def keeps_them_after(self: Any, orders: Sequence[Mapping[str, Any]]) -> None:
        return None

    monkeypatch.setattr(SqlStockEngine, "release_within", keeps_them_within)
    monkeypatch.setattr(RedisStockEngine, "release_after", keeps_them_after)
    result = await expiry.run(buy_ctx.settings, units=50, sweepers=1, window_seconds=1)
    assert result.expired == 50
    assert result.units_still_taken == 50
    assert not result.passed
