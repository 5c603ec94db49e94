"""How long the storefront's pages take to serve with a warm cache: ``python -m flashport.bench.pages``.

Loads the demo into a throw-away SQLite database, warms the caches, then serves each page N times
in-process through httpx's ASGI transport (no network) and prints the median and the 95th percentile,
warm (page data cached, as under load) and cold (caches emptied before each request). The figures
include httpx's own overhead, so the server's share is a little lower still.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from flashport import demo
from flashport.adapters.db import migrate
from flashport.app import create_app
from flashport.bootstrap import build_context, close_context
from flashport.settings import Settings
from flashport.web.state import Storefront

PAGES = ("/events/1", "/items/1", "/", "/live/events/1")


async def _time_pages(settings: Settings, rounds: int) -> None:
    await demo.load(settings)
    ctx = await build_context(settings)
    app = create_app(ctx=ctx)
    storefront: Storefront = app.state.storefront
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://shop"
        ) as client:
            for path in PAGES:
                (await client.get(path)).raise_for_status()  # warm: the page data is now cached
                warm = [await _timed(client, path) for _ in range(rounds)]
                cold = [await _timed(client, path, before=_forget(storefront)) for _ in range(rounds // 10)]
                print(f"{path:16} warm {_summary(warm)}   cold {_summary(cold)}")
    finally:
        await close_context(ctx)


def _forget(storefront: Storefront) -> Callable[[], None]:
    def clear() -> None:
        for cache in (
            storefront.listings,
            storefront.event_pages,
            storefront.live_counts,
            storefront.item_events,
        ):
            cache.clear()

    return clear


async def _timed(client: httpx.AsyncClient, path: str, before: Callable[[], None] | None = None) -> float:
    if before is not None:
        before()
    started = time.perf_counter()
    await client.get(path)
    return (time.perf_counter() - started) * 1000


def _summary(took: list[float]) -> str:
    took = sorted(took)
    p95 = took[max(0, int(len(took) * 0.95) - 1)]
    return f"median {statistics.median(took):5.2f} ms, p95 {p95:5.2f} ms ({len(took)})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=500)
    rounds = parser.parse_args().rounds
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(env="test", data_dir=Path(folder))
        migrate.upgrade(settings)  # before our loop starts: the migrations run their own
        asyncio.run(_time_pages(settings, rounds))


if __name__ == "__main__":
    main()
