"""The token bucket (GCRA) and the log-in lockout as pure rules, and the in-process limiter that keeps
them on the embedded default."""

from __future__ import annotations

import pytest

from flashport.adapters.ratelimit.memory import SWEEP_AT, InProcessLimiter
from flashport.domain.rate_limits import Bucket, LoginLockout, retry_after, take
from flashport.settings import Settings


def test_a_bucket_is_written_capacity_slash_seconds() -> None:
    assert Bucket.parse("10/60") == Bucket(10, 60.0)
    assert Bucket.parse(" 300 / 10s ") == Bucket(300, 10.0)
    assert Bucket.parse("100000/0.5").interval == pytest.approx(0.000005)
    for bad in ("", "10", "0/60", "10/0", "-1/5", "ten/60"):
        with pytest.raises(ValueError):
            Bucket.parse(bad)


def test_a_bad_bucket_in_settings_names_its_variable(tmp_path: object) -> None:
    with pytest.raises(ValueError, match="FLASHPORT_RATE_BUY_ADDRESS"):
        Settings(rate_buy_address="lots")


def test_a_full_bucket_allows_a_burst_of_its_capacity_then_one_per_interval() -> None:
    bucket = Bucket(3, 30.0)  # one token back every 10 s
    tat, now, allowed = None, 1000.0, []
    for _ in range(4):
        new_tat, wait = take(tat, now, bucket)
        allowed.append(wait)
        if not wait:
            tat = new_tat
    assert allowed == [0.0, 0.0, 0.0, pytest.approx(10.0)]
    assert take(tat, now + 9.9, bucket)[1] == pytest.approx(0.1)
    assert take(tat, now + 10.0, bucket)[1] == 0.0
    assert take(tat, now + 30.0, bucket) == (pytest.approx(now + 40.0), 0.0)  # full again: a fresh start


def test_retry_after_is_whole_seconds_and_never_zero_while_a_wait_remains() -> None:
    assert [retry_after(s) for s in (0.001, 1.0, 1.2, 299.99)] == [1, 1, 2, 300]


def test_failed_log_ins_first_slow_an_address_down_then_lock_it_for_5_then_15_minutes() -> None:
    lockout = LoginLockout(slow_after=3, lock_after=5, lock=300, relock=900)
    assert [lockout.wait_after(n) for n in range(1, 9)] == [0, 0, 1, 2, 300, 900, 900, 900]


async def test_the_in_process_limiter_takes_from_every_bucket_of_a_request_or_from_none() -> None:
    limiter = InProcessLimiter()
    roomy, tight = Bucket(10, 10.0), Bucket(1, 10.0)
    assert await limiter.take([("a", roomy), ("b", tight)], 0.0) == 0.0
    assert await limiter.take([("a", roomy), ("b", tight)], 0.0) == pytest.approx(10.0)
    # "a" lost nothing to the refused request: nine more fit at once
    assert [await limiter.take([("a", roomy)], 0.0) for _ in range(10)] == [0.0] * 9 + [pytest.approx(1.0)]


async def test_the_in_process_limiter_drops_full_buckets_as_it_grows() -> None:
    limiter = InProcessLimiter()
    for n in range(SWEEP_AT - 1):
        await limiter.take([(f"k{n}", Bucket(1, 1.0))], 0.0)
    await limiter.take([("late", Bucket(1, 1.0))], 5.0)  # every earlier bucket is full again by then
    assert len(limiter._tats) == 1


async def test_the_in_process_lockout_counts_failures_in_a_window_and_keeps_the_longer_lock() -> None:
    limiter = InProcessLimiter()
    lockout = LoginLockout(slow_after=2, lock_after=3, lock=300, relock=900, window=3600)
    waits = [await limiter.record_failure("x", 0.0, lockout) for _ in range(2)]
    assert waits == [0.0, 1.0]
    assert await limiter.record_failure("x", 0.5, lockout) == 300.0
    assert await limiter.locked_for("x", 100.0) == 200.5
    await limiter.clear_failures("x")
    assert await limiter.locked_for("x", 100.0) == 200.5  # a success does not lift a lock
    assert await limiter.record_failure("x", 5000.0, lockout) == 0.0  # first of a new window
