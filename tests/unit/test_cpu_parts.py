"""The bench's CPU per part: processes are told apart by name or command line, with what they started."""

from __future__ import annotations

import subprocess
import sys

import pytest

from flashport.bench import cpu_parts

# A process that looks like ``flashport worker`` to the sampler and spends 0.3 s of its own CPU, then
# waits for its input to close (so the test samples it alive).
BUSY = (
    "import sys, time\nwhile time.process_time() < 0.3: pass\nprint('spent', flush=True)\nsys.stdin.read()\n"
)


@pytest.mark.skipif(not cpu_parts.PROC.is_dir(), reason="reads /proc (Linux)")
def test_a_processs_cpu_is_counted_to_the_part_its_command_line_names() -> None:
    before = cpu_parts.sample()
    busy = subprocess.Popen(
        [sys.executable, "-c", BUSY, "flashport", "worker"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert busy.stdout is not None and busy.stdout.readline().startswith("spent")
        after = cpu_parts.sample()
    finally:
        assert busy.stdin is not None
        busy.stdin.close()
        busy.wait()
    spent = cpu_parts.between(before, after, orders=1000)
    assert spent.seconds["worker"] >= 0.29
    assert spent.per_order_us("worker") >= 290


def test_the_words_of_a_part_are_found_in_order_in_the_command_line() -> None:
    assert cpu_parts._has_words(
        ["python3", "-m", "flashport", "serve", "--workers", "2"], ("flashport", "serve")
    )
    assert cpu_parts._has_words(["flashport", "serve"], ("flashport", "serve"))
    assert not cpu_parts._has_words(["flashport", "bench", "--url", "x"], ("flashport", "serve"))
    assert not cpu_parts._has_words(["serve", "flashport"], ("flashport", "serve"))
    assert not cpu_parts._has_words([], ("flashport", "serve"))


def test_a_part_with_no_orders_costs_nothing_per_order() -> None:
    spent = cpu_parts.between({"api": 1.0}, {"api": 3.0}, orders=0)
    assert spent.seconds == {"api": 2.0} and spent.per_order_us("api") == 0.0
    assert cpu_parts.between({"api": 1.0}, {"api": 3.0}, orders=4).per_order_us("api") == 500_000
