"""The group commit's adaptive pace, driven by an injected clock: no sleeps, no timing."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from flashport.adapters.db.commit_pace import AdaptivePace, FixedPace
from flashport.adapters.db.group_commit import GroupCommitter


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def arrivals(pace: AdaptivePace, clock: Clock, *, per_second: float, seconds: float) -> None:
    """Items arriving evenly at ``per_second`` for ``seconds``, a millisecond at a time."""
    step = 0.001
    owed = 0.0
    for _ in range(round(seconds / step)):
        clock.now += step
        owed += per_second * step
        whole = int(owed)
        if whole:
            pace.arrived(whole)
            owed -= whole


class Recording(AdaptivePace):
    sizes: list[int]

    def committed(self, size: int, seconds: float) -> None:
        self.sizes = [*getattr(self, "sizes", []), size]
        super().committed(size, seconds)


def paced(clock: Clock, **overrides: float) -> AdaptivePace:
    options: dict[str, float] = {"max_in_flight": 8, "max_linger": 0.002, "crowd": 64} | overrides
    return AdaptivePace(clock=clock, **options)  # type: ignore[arg-type]


def test_a_lone_buyer_commits_at_once_with_every_slot_open() -> None:
    clock = Clock()
    pace = paced(clock)
    pace.arrived()
    assert pace.in_flight() == 8
    assert pace.linger(1) == 0.0


def test_a_light_load_opens_every_slot_and_lingers_not_at_all() -> None:
    clock = Clock()
    pace = paced(clock)
    pace.committed(3, 0.004)
    arrivals(pace, clock, per_second=2_000, seconds=2)  # 8 items per commit: a quarter of the crowd
    assert pace.expected_crowd() == pytest.approx(8, rel=0.1)
    assert pace.pressure() == 0.0
    assert pace.in_flight() == 8
    assert pace.linger(5) == 0.0


def test_a_crowd_gets_few_transactions_and_the_full_linger() -> None:
    clock = Clock()
    pace = paced(clock)
    pace.committed(100, 0.010)
    arrivals(pace, clock, per_second=20_000, seconds=2)  # 200 items per commit
    assert pace.pressure() == 1.0
    assert pace.in_flight() == 2
    assert pace.linger(10) == 0.002


def test_a_batch_already_as_big_as_the_crowd_does_not_linger() -> None:
    clock = Clock()
    pace = paced(clock)
    pace.committed(100, 0.010)
    arrivals(pace, clock, per_second=20_000, seconds=2)
    assert pace.linger(64) == 0.0


def test_between_light_and_crowd_the_pace_moves_in_proportion() -> None:
    clock = Clock()
    pace = paced(clock)
    pace.committed(20, 0.010)
    arrivals(pace, clock, per_second=4_000, seconds=2)  # 40 items per commit: (40 - 16) / (64 - 16)
    assert pace.pressure() == pytest.approx(0.5, abs=0.05)
    assert pace.in_flight() in (5, 6)
    assert pace.linger(10) == pytest.approx(0.001, abs=0.0001)


def test_after_a_rush_the_next_lone_buyer_is_not_kept_waiting() -> None:
    clock = Clock()
    pace = paced(clock)
    pace.committed(100, 0.010)
    arrivals(pace, clock, per_second=20_000, seconds=1)
    assert pace.in_flight() == 2
    clock.now += 30.0  # the sale sold out; half a minute later somebody else tries
    pace.arrived()
    assert pace.rate < 1
    assert pace.in_flight() == 8
    assert pace.linger(1) == 0.0


def test_the_rate_follows_a_change_of_load_within_a_few_memories() -> None:
    clock = Clock()
    pace = paced(clock, memory=0.5)
    arrivals(pace, clock, per_second=1_000, seconds=3)
    assert pace.rate == pytest.approx(1_000, rel=0.05)
    arrivals(pace, clock, per_second=10_000, seconds=3)
    assert pace.rate == pytest.approx(10_000, rel=0.05)


def test_the_commit_time_is_an_average_of_recent_commits() -> None:
    pace = paced(Clock())
    pace.committed(10, 0.010)
    for _ in range(40):
        pace.committed(10, 0.002)
    assert pace.commit_seconds == pytest.approx(0.002, rel=0.01)


def test_one_slot_stays_one_slot() -> None:
    clock = Clock()
    pace = paced(clock, max_in_flight=1)
    pace.committed(100, 0.010)
    arrivals(pace, clock, per_second=20_000, seconds=1)
    assert (pace.in_flight(), pace.linger(1)) == (1, 0.002)


@pytest.mark.parametrize(
    "options",
    [{"max_in_flight": 0}, {"min_in_flight": 9}, {"max_linger": -1}, {"crowd": 3}, {"memory": 0}],
)
def test_impossible_bounds_are_refused(options: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        paced(Clock(), **options)


def test_a_fixed_pace_is_fixed() -> None:
    pace = FixedPace(3, 0.002)
    pace.committed(1, 10.0)
    assert (pace.in_flight(), pace.linger(1)) == (3, 0.002)
    with pytest.raises(ValueError):
        FixedPace(0)


async def test_the_committer_feeds_its_pace_and_keeps_to_its_slots() -> None:
    """A crowd narrows the committer to two transactions in flight: with the transactions held open, the
    third batch waits for a free slot, and every item still gets its own result after its commit."""
    clock = Clock()
    pace = Recording(max_in_flight=8, crowd=64, clock=clock)
    pace.committed(100, 0.010)
    arrivals(pace, clock, per_second=20_000, seconds=1)
    release, two_started = asyncio.Event(), asyncio.Event()
    started: list[int] = []

    async def transact(items: Sequence[int]) -> list[int]:
        started.append(len(items))
        if len(started) == 2:
            two_started.set()
        await release.wait()
        return [i + 1 for i in items]

    committer: GroupCommitter[int, int] = GroupCommitter(transact, pace=pace)
    first = [asyncio.create_task(committer.submit(i)) for i in range(3)]
    await two_started.wait()
    for _ in range(10):  # turns of the loop in which a third transaction could start, and must not
        await asyncio.sleep(0)
    assert pace.in_flight() == 2 and len(started) == 2
    release.set()
    assert await asyncio.gather(*first) == [1, 2, 3]
    assert committer.items == 3
    assert pace.sizes == [100, 1, 1, 1]  # the committer reported each commit to its pace
