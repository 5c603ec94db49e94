"""The bench's parts found by name or command line (bench/cpu_parts.py), measured with their children."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from flashport.bench import cpu_parts
from flashport.bench.cpu import CpuWatch, tree_cpu_seconds

# A process that looks like ``flashport worker`` to the discovery, with a child of the same command line
# (counted once, through its parent), each spending 0.2 s of its own CPU; then waiting on its input.
BUSY = """
import subprocess, sys, time
child = None
if "--child" not in sys.argv:
    child = subprocess.Popen([*sys.orig_argv, "--child"], stdin=subprocess.PIPE)
while time.process_time() < 0.2:
    pass
print("spent", flush=True)
sys.stdin.read()
if child:
    child.stdin.close()
    child.wait()
"""


@pytest.mark.skipif(not cpu_parts.PROC.is_dir(), reason="reads /proc (Linux)")
def test_a_part_is_found_by_its_command_line_and_its_children_count_with_it() -> None:
    busy = subprocess.Popen(
        [sys.executable, "-c", BUSY, "flashport", "worker"], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    try:
        assert busy.stdout is not None
        assert [busy.stdout.readline(), busy.stdout.readline()] == [b"spent\n", b"spent\n"]  # both
        children = [
            int(pid) for pid in Path(f"/proc/{busy.pid}/task/{busy.pid}/children").read_text().split()
        ]
        found = cpu_parts.discover()
        spent = tree_cpu_seconds(busy.pid)
    finally:
        assert busy.stdin is not None
        busy.stdin.close()
        busy.wait()
    assert busy.pid in found["worker"] and len(children) == 1
    assert children[0] not in found["worker"]  # counted once, through its parent
    assert spent >= 0.3  # the parent's 0.2 s and its child's (each read in 10 ms ticks)
    assert found["generator"] == [os.getpid()]


def test_the_words_of_a_part_are_found_in_order_in_the_command_line() -> None:
    assert cpu_parts._has_words(
        ["python3", "-m", "flashport", "serve", "--workers", "2"], ("flashport", "serve")
    )
    assert cpu_parts._has_words(["flashport", "serve"], ("flashport", "serve"))
    assert not cpu_parts._has_words(["flashport", "bench", "--url", "x"], ("flashport", "serve"))
    assert not cpu_parts._has_words(["serve", "flashport"], ("flashport", "serve"))
    assert not cpu_parts._has_words([], ("flashport", "serve"))


def test_the_lines_give_each_part_per_order_and_the_log_written() -> None:
    watch = CpuWatch({"api": [1]})
    watch.used = {"api": 2.0}
    shown = dict(cpu_parts.lines(watch, 4, wal_bytes=8_000))
    assert shown["CPU api"] == "2.00 s = 500,000 us per order"
    assert shown["PostgreSQL WAL"] == "0.0 MB = 2,000 bytes per order"
    assert "PostgreSQL WAL" not in dict(cpu_parts.lines(watch, 4, wal_bytes=None))
