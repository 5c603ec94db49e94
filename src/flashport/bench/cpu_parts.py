"""The CPU each part of a local platform spends during a benchmark, read from ``/proc`` (Linux).

The capacity model (docs/capacity.md) is built from CPU per order per part: the API processes, the
worker, PostgreSQL, Redis and NATS, and the load generator itself. Throughput on a shared machine moves
with whatever else runs on it; the CPU a part spends per order moves far less, and it is what sizing a
larger deployment needs. A part is found by its processes: PostgreSQL's and Redis's servers by their
names, Flashport's by their command line (``flashport serve`` / ``flashport worker``) with every process
they started (the API's worker processes); the generator is the bench's own process and the firing
processes it started. Only processes of this machine are seen, all of them: the figures hold when the
servers run where the bench runs and nothing else uses them (another program's queries count as
PostgreSQL's, another ``flashport serve`` as the API's).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")
# Part name -> how its root processes are recognised: by the kernel's process name, or by words in
# the command line (all of them).
BY_NAME = {"postgres": "postgres", "redis": "redis-server", "nats": "nats-server"}
BY_COMMAND = {"api": ("flashport", "serve"), "worker": ("flashport", "worker")}
PARTS = ("api", "worker", "postgres", "redis", "nats", "generator")


@dataclass(frozen=True, slots=True)
class _Proc:
    pid: int
    parent: int
    name: str
    cpu_seconds: float  # user + system, the process's own (children it waited for are not counted)


def _read(pid: int, ticks: float) -> _Proc | None:
    try:
        stat = (PROC / str(pid) / "stat").read_text()
    except OSError:  # gone meanwhile
        return None
    name = stat[stat.index("(") + 1 : stat.rindex(")")]
    fields = stat[stat.rindex(")") + 2 :].split()
    # fields[1] is the parent (ppid); 11 and 12 are utime and stime, in clock ticks.
    return _Proc(pid, int(fields[1]), name, (int(fields[11]) + int(fields[12])) / ticks)


def _command(pid: int) -> list[str]:
    try:
        raw = (PROC / str(pid) / "cmdline").read_bytes()
    except OSError:
        return []
    return [arg.decode(errors="replace").rsplit("/", 1)[-1] for arg in raw.split(b"\0") if arg]


def _descendants(roots: Iterable[int], children: Mapping[int, list[int]]) -> set[int]:
    seen: set[int] = set()
    stack = list(roots)
    while stack:
        pid = stack.pop()
        if pid not in seen:
            seen.add(pid)
            stack.extend(children.get(pid, ()))
    return seen


def sample() -> dict[str, float]:
    """CPU seconds spent so far by each part's processes that are alive now, and by this process (the
    load generator) with every child it has waited for (its firing processes, gone by the end)."""
    ticks = float(os.sysconf("SC_CLK_TCK"))
    procs = [p for pid in PROC.iterdir() if pid.name.isdigit() for p in [_read(int(pid.name), ticks)] if p]
    children: dict[int, list[int]] = {}
    for p in procs:
        children.setdefault(p.parent, []).append(p.pid)
    by_pid = {p.pid: p for p in procs}
    members: dict[str, set[int]] = {part: set() for part in PARTS if part != "generator"}
    for p in procs:
        for part, name in BY_NAME.items():
            if p.name == name:
                members[part].add(p.pid)
    for part, words in BY_COMMAND.items():
        roots = [p.pid for p in procs if _has_words(_command(p.pid), words)]
        members[part] = _descendants(roots, children)
    spent = {
        part: sum(by_pid[pid].cpu_seconds for pid in pids if pid in by_pid) for part, pids in members.items()
    }
    own = os.times()
    spent["generator"] = own.user + own.system + own.children_user + own.children_system
    return spent


def _has_words(command: list[str], words: tuple[str, ...]) -> bool:
    """``python -m flashport serve ...`` or ``flashport serve ...``: the words in the order given, the
    first of them as the program or a module."""
    if not command:
        return False
    at = 0
    for arg in command:
        if at < len(words) and arg == words[at]:
            at += 1
    return at == len(words)


@dataclass(frozen=True, slots=True)
class CpuPerOrder:
    """CPU seconds each part spent between two samples, and per order."""

    seconds: dict[str, float]
    orders: int
    wal_bytes: int | None = None  # PostgreSQL's write-ahead log written meanwhile (None: SQLite, unread)

    def per_order_us(self, part: str) -> float:
        return self.seconds[part] / self.orders * 1e6 if self.orders else 0.0

    def lines(self) -> list[tuple[str, str]]:
        shown = [part for part in PARTS if self.seconds.get(part, 0.0) > 0.0]
        lines = [
            (f"CPU {part}", f"{self.seconds[part]:.2f} s = {self.per_order_us(part):,.0f} us per order")
            for part in shown
        ]
        if self.wal_bytes is not None and self.orders:
            per_order = self.wal_bytes / self.orders
            lines.append(
                ("PostgreSQL WAL", f"{self.wal_bytes / 1e6:,.1f} MB = {per_order:,.0f} bytes per order")
            )
        return lines

    def as_json(self) -> dict[str, object]:
        return {
            "orders": self.orders,
            "seconds": {part: round(s, 3) for part, s in self.seconds.items()},
            "us_per_order": {part: round(self.per_order_us(part), 1) for part in self.seconds},
            "wal_bytes": self.wal_bytes,
        }


def between(
    before: Mapping[str, float], after: Mapping[str, float], orders: int, wal_bytes: int | None = None
) -> CpuPerOrder:
    """A process that ended between the samples loses what it spent since the first; one that started
    counts whole. Both are rare during a bench (pools keep their connections)."""
    spent = {part: max(0.0, after[part] - before.get(part, 0.0)) for part in after}
    return CpuPerOrder(spent, orders, wal_bytes)
