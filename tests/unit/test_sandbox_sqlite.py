"""A sandbox's SQLite file: one connection, its calls run in the event loop's thread; concurrent
transactions take turns instead of meeting SQLite's lock."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from flashport.sandbox_support.sqlite import SandboxSqlite

metadata = sa.MetaData()
parcels = sa.Table(
    "parcels",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("number", sa.String(20), nullable=False, unique=True),
)


async def _started(tmp_path: Path) -> SandboxSqlite:
    database = SandboxSqlite(tmp_path / "sandbox.db", metadata, "the test sandbox")
    await database.start()
    return database


async def test_statements_run_in_the_loops_thread_and_concurrent_transactions_take_turns(
    tmp_path: Path,
) -> None:
    threads_before = threading.active_count()
    database = await _started(tmp_path)
    first_in = asyncio.Event()
    order: list[str] = []

    async def first() -> None:
        async with database.engine.begin() as conn:
            await conn.execute(parcels.insert().values(number="P1"))
            order.append("first wrote")
            first_in.set()
            await asyncio.sleep(0.05)  # holds its transaction while the second asks for one
            order.append("first commits")

    async def second() -> int:
        await first_in.wait()
        async with database.engine.begin() as conn:
            order.append("second began")
            await conn.execute(parcels.insert().values(number="P2"))
            return int(await conn.scalar(sa.select(sa.func.count()).select_from(parcels)) or 0)

    _, seen = await asyncio.gather(first(), second())
    assert threading.active_count() == threads_before  # no thread per connection
    await database.stop()
    assert order == ["first wrote", "first commits", "second began"]
    assert seen == 2


async def test_a_failing_statement_rolls_its_transaction_back_and_the_next_goes_on(tmp_path: Path) -> None:
    database = await _started(tmp_path)
    async with database.engine.begin() as conn:
        await conn.execute(parcels.insert().values(number="P1"))
    with pytest.raises(IntegrityError):
        async with database.engine.begin() as conn:
            await conn.execute(parcels.insert().values(number="P2"))
            await conn.execute(parcels.insert().values(number="P1"))  # taken
    async with database.engine.begin() as conn:
        await conn.execute(parcels.insert().values(number="P3"))
    async with database.engine.connect() as conn:
        numbers = list(await conn.scalars(sa.select(parcels.c.number).order_by(parcels.c.number)))
    await database.stop()
    assert numbers == ["P1", "P3"]
