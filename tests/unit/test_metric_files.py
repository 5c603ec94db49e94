"""The API's metric files hold their disk blocks from the start: a full disk later (a database filling
it) cannot kill the process when a new label set is first written (SIGBUS on a memory-mapped hole)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from flashport.adapters import metrics


def _allocated(path: Path) -> int:
    return os.stat(path).st_blocks * 512


def test_each_kind_of_file_is_allocated_in_full(tmp_path: Path) -> None:
    metrics.preallocate_files(str(tmp_path), pid=4242)
    for kind in metrics.FILE_KINDS:
        path = tmp_path / f"{kind}_4242.db"
        assert path.stat().st_size == metrics.PREALLOCATED_BYTES
        assert _allocated(path) >= metrics.PREALLOCATED_BYTES  # real blocks, not a sparse file


def test_a_file_already_larger_is_left_as_it_is(tmp_path: Path) -> None:
    path = tmp_path / "counter_7.db"
    path.write_bytes(b"\1" * (2 * metrics.PREALLOCATED_BYTES))
    metrics.preallocate_files(str(tmp_path), pid=7)
    assert path.read_bytes() == b"\1" * (2 * metrics.PREALLOCATED_BYTES)


def test_no_directory_is_no_error(tmp_path: Path) -> None:
    metrics.preallocate_files(str(tmp_path / "missing"), pid=1)
    assert not (tmp_path / "missing").exists()


SERVED = """
import os, sys
from flashport.adapters import metrics
metrics.HTTP_REQUESTS.labels("/api/v1/sale-items/{item_id}/buy", "POST", "503").inc()
metrics.HTTP_SECONDS.labels("/api/v1/sale-items/{item_id}/buy", "POST").observe(0.01)
sys.stdout.write(str(os.getpid()))
sys.stdout.write(metrics.render_processes().decode())
"""


def test_an_api_process_maps_the_allocated_files_and_its_metrics_read_back(tmp_path: Path) -> None:
    env = {**os.environ, metrics.MULTIPROC_ENV: str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", SERVED], env=env, capture_output=True, text=True, check=True)
    pid = int(out.stdout.split("#", 1)[0])
    for kind in ("counter", "histogram"):
        path = tmp_path / f"{kind}_{pid}.db"
        assert path.stat().st_size == metrics.PREALLOCATED_BYTES  # prometheus_client kept our size
        assert _allocated(path) >= metrics.PREALLOCATED_BYTES
    assert 'status="503"} 1.0' in out.stdout
