"""CPU time of the processes a benchmark loads (the API, HAProxy, PostgreSQL, Redis), read from ``/proc``
before and after the sale: what one order costs each of them.

A process is counted with every descendant (uvicorn's workers, serve-cluster's nodes, PostgreSQL's
backends), and with the time of the descendants that already exited and were reaped (``cutime`` and
``cstime`` of their parent): a PostgreSQL backend that closes during the sale keeps its share.

What it cannot tell apart: a PostgreSQL or Redis shared with other work (another test run) counts that
work too. Linux only; elsewhere nothing is watched.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path


def parse_watched(specs: Sequence[str]) -> dict[str, list[int]]:
    """``name=pid`` (repeatable, a name may come again to add a process): pids by name."""
    watched: dict[str, list[int]] = {}
    for spec in specs:
        name, _, pid = spec.partition("=")
        if not name or not pid.isdigit():
            raise ValueError(f"a watched process is name=pid, not {spec!r}")
        watched.setdefault(name, []).append(int(pid))
    return watched


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU of ``pid``, its live descendants and the reaped ones (0 if it is gone)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for each in _tree(pid):
        try:
            stat = Path(f"/proc/{each}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        total += sum(int(v) for v in fields[11:15])  # utime, stime, cutime, cstime
    return total / ticks


def _tree(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        try:
            for task in Path(f"/proc/{current}/task").iterdir():
                todo.extend(int(c) for c in (task / "children").read_text().split())
        except OSError:
            continue
    return found


@dataclass
class CpuWatch:
    """Seconds of CPU each named group of processes used between :meth:`start` and :meth:`stop`."""

    pids: Mapping[str, Sequence[int]]

    def __post_init__(self) -> None:
        self._before: dict[str, float] = {}
        self.used: dict[str, float] = {}

    def _now(self) -> dict[str, float]:
        return {name: sum(tree_cpu_seconds(p) for p in pids) for name, pids in self.pids.items()}

    def start(self) -> None:
        self._before = self._now()

    def stop(self) -> None:
        after = self._now()
        self.used = {name: after[name] - self._before[name] for name in self.pids}

    def per_order_us(self, orders: int) -> dict[str, float]:
        return {name: 1e6 * seconds / max(orders, 1) for name, seconds in self.used.items()}
