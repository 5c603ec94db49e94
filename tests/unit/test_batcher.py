"""The partners' batcher on a clock the test moves: with a quiet gap (``max_wait``) a batch stays open
while requests keep coming a little apart, up to its longest wait; without, it closes ``window`` after
its first request whatever follows."""

from __future__ import annotations

import asyncio

import pytest

from flashport.sandbox_support.batcher import Batcher

APART = 0.03  # between two requests: less than the window (0.05), never a multiple of it


class LoopClock:
    """The running loop's clock, moved by hand: its timers fire only when the test moves it."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.now = 1000.0
        monkeypatch.setattr(asyncio.get_running_loop(), "time", lambda: self.now)

    async def advance(self, seconds: float) -> None:
        self.now += seconds
        for _ in range(5):  # let timers due now and the tasks they wake run
            await asyncio.sleep(0)


async def _arrivals(batcher: Batcher[int, int], clock: LoopClock, count: int) -> list[int]:
    """``count`` requests, one every ``APART`` seconds, then time enough for every batch to close."""
    waiting = []
    for n in range(count):
        waiting.append(asyncio.create_task(batcher.submit(n)))
        await clock.advance(0)  # the request is in
        await clock.advance(APART)
    await clock.advance(10)
    return list(await asyncio.gather(*waiting))


def _recording() -> tuple[list[list[int]], object]:
    batches: list[list[int]] = []

    async def flush(items: list[int]) -> list[int]:
        batches.append(list(items))
        return [n * 10 for n in items]

    return batches, flush


async def test_with_a_quiet_gap_requests_coming_a_little_apart_share_one_batch(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = LoopClock(monkeypatch)
    batches, flush = _recording()
    batcher: Batcher[int, int] = Batcher(flush, size=100, window=0.05, max_wait=1.0)  # type: ignore[arg-type]
    assert await _arrivals(batcher, clock, 10) == [n * 10 for n in range(10)]  # each its own answer
    assert batches == [list(range(10))]


async def test_a_batch_closes_at_its_longest_wait_however_many_keep_coming(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = LoopClock(monkeypatch)
    batches, flush = _recording()
    batcher: Batcher[int, int] = Batcher(flush, size=100, window=0.05, max_wait=0.2)  # type: ignore[arg-type]
    await _arrivals(batcher, clock, 16)
    assert [len(b) for b in batches] == [7, 7, 2]  # 0.2 s of requests 0.03 s apart, then the rest
    assert [n for b in batches for n in b] == list(range(16))


async def test_without_a_quiet_gap_a_batch_closes_its_window_after_its_first_request(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = LoopClock(monkeypatch)
    batches, flush = _recording()
    batcher: Batcher[int, int] = Batcher(flush, size=100, window=0.05)  # type: ignore[arg-type]
    await _arrivals(batcher, clock, 10)
    assert [len(b) for b in batches] == [2] * 5
