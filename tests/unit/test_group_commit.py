"""Group commit on a throw-away in-memory SQLite engine: batching, and one bad item never sinks others."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from flashport.adapters.db.group_commit import GroupCommitter, in_transaction


async def test_concurrent_submissions_share_transactions_and_each_gets_its_own_result() -> None:
    engine = create_async_engine("sqlite+aiosqlite://")
    batches: list[int] = []

    async def write(_conn: AsyncConnection, items: Sequence[int]) -> list[int]:
        batches.append(len(items))
        await asyncio.sleep(0.01)  # a commit that takes a while: the next batch gathers meanwhile
        return [i * 10 for i in items]

    committer: GroupCommitter[int, int] = GroupCommitter(in_transaction(engine, write), max_in_flight=1)
    results = await asyncio.gather(*[committer.submit(i) for i in range(200)])
    await engine.dispose()
    assert results == [i * 10 for i in range(200)]
    assert sum(batches) == 200
    assert len(batches) < 10, batches
    assert committer.batches == len(batches)


async def test_a_failing_item_fails_alone() -> None:
    engine = create_async_engine("sqlite+aiosqlite://")

    async def write(_conn: AsyncConnection, items: Sequence[int]) -> list[int]:
        if 13 in items:
            raise ValueError("row 13 violates a constraint")
        return list(items)

    committer: GroupCommitter[int, int] = GroupCommitter(in_transaction(engine, write), max_in_flight=1)
    outcomes = await asyncio.gather(*[committer.submit(i) for i in range(30)], return_exceptions=True)
    await engine.dispose()
    assert [o for o in outcomes if isinstance(o, Exception)] and isinstance(outcomes[13], ValueError)
    assert [o for i, o in enumerate(outcomes) if i != 13] == [i for i in range(30) if i != 13]


@pytest.mark.parametrize("linger", [0.0, 0.02])
async def test_drain_waits_for_everything_submitted(linger: float) -> None:
    engine = create_async_engine("sqlite+aiosqlite://")
    written: list[int] = []

    async def write(_conn: AsyncConnection, items: Sequence[int]) -> list[None]:
        written.extend(items)
        return [None] * len(items)

    committer: GroupCommitter[int, None] = GroupCommitter(
        in_transaction(engine, write), linger_seconds=linger
    )
    tasks = [asyncio.create_task(committer.submit(i)) for i in range(50)]
    await asyncio.sleep(0)
    await committer.drain()
    await asyncio.gather(*tasks)
    await engine.dispose()
    assert sorted(written) == list(range(50))
