"""The benchmark's CPU reading from /proc (bench/cpu.py)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from flashport.bench.cpu import CpuWatch, parse_watched, tree_cpu_seconds


def test_watched_processes_are_name_equals_pid_and_a_name_may_add_several() -> None:
    assert parse_watched(["api=10", "postgres=20", "api=11"]) == {"api": [10, 11], "postgres": [20]}
    with pytest.raises(ValueError, match="name=pid"):
        parse_watched(["api"])


def test_a_child_that_worked_and_exited_still_counts_for_its_parent() -> None:
    before = tree_cpu_seconds(os.getpid())
    subprocess.run([sys.executable, "-c", "sum(i * i for i in range(3_000_000))"], check=True)
    assert tree_cpu_seconds(os.getpid()) - before >= 0.05  # the reaped child's time (cutime)


def test_the_watch_gives_seconds_and_microseconds_an_order_per_name() -> None:
    watch = CpuWatch({"self": [os.getpid()]})
    watch.start()
    sum(i * i for i in range(2_000_000))
    watch.stop()
    assert watch.used["self"] > 0
    assert watch.per_order_us(1000)["self"] == pytest.approx(1000 * watch.used["self"])
