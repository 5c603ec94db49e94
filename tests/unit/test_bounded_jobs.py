"""Declarations are worked through a bounded number at a time, and one failing does not stop the rest."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from flashport.services.customs import bounded
from flashport.settings import Settings


def _settings(tmp_path: Path, **changes: object) -> Settings:
    return Settings(env="test", data_dir=tmp_path, **changes)  # type: ignore[arg-type]


async def test_at_most_the_configured_number_run_at_once_and_a_failure_stops_no_other(tmp_path: Path) -> None:
    settings = _settings(tmp_path, database_url="postgresql://x@127.0.0.1/x", customs_concurrency=3)
    running = peak = 0

    async def job(n: int) -> int:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.01)
        running -= 1
        if n == 4:
            raise RuntimeError("an unexpected failure of one declaration")
        return 1

    assert await bounded.each(settings, range(10), job, "testing") == 9
    assert peak == 3


@pytest.mark.parametrize(("url", "expected"), [(None, 1), ("postgresql://x@127.0.0.1/x", 8)])
def test_sqlite_moves_one_declaration_at_a_time(tmp_path: Path, url: str | None, expected: int) -> None:
    assert bounded.concurrency(_settings(tmp_path, database_url=url)) == expected
