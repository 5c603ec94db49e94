"""/metrics in a process that counts in its own memory though the shared directory's variable is set:
``serve --workers 1`` imports prometheus_client (through the command line) before it sets the variable,
so its counts never reach the directory. /metrics showed no counter at all there (only gauges)."""

from __future__ import annotations

from pathlib import Path

import pytest

from flashport.adapters import metrics


def test_a_process_counting_in_memory_shows_its_counts_though_the_directory_variable_is_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # This test process imported prometheus_client with no variable set, as `serve --workers 1` does.
    monkeypatch.setenv(metrics.MULTIPROC_ENV, str(tmp_path))
    monkeypatch.setattr(metrics.switch, "on", True)
    before = _created(metrics.render_processes())
    metrics.observe_placement("redis", "created", 0.001)
    assert _created(metrics.render_processes()) == before + 1


def _created(text: bytes) -> float:
    for line in text.decode().splitlines():
        if line.startswith("flashport_orders_created_total "):
            return float(line.split()[1])
    raise AssertionError("flashport_orders_created_total is not rendered")
