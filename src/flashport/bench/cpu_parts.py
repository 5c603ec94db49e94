"""Which local processes are which part of the platform, for the bench's CPU per order per part.

The capacity model (docs/capacity.md) is built from CPU per order per part: the API processes, the
worker, PostgreSQL, Redis and NATS, and the load generator itself. Throughput on a shared machine moves
with whatever else runs on it; the CPU a part spends per order moves far less, and it is what sizing a
larger deployment needs. ``flashport bench`` measures them with :class:`~flashport.bench.cpu.CpuWatch`
(each process with its descendants, reaped ones included); with no ``--cpu-of`` given, this module finds
the roots itself: PostgreSQL's, Redis's and NATS's servers by their names, Flashport's by their command
line (``flashport serve`` / ``flashport worker``), and the generator as the bench's own process. Only
processes of this machine are seen, all of them: the figures hold when the servers run where the bench
runs and nothing else uses them (another program's queries count as PostgreSQL's, another ``flashport
serve`` as the API's).
"""

from __future__ import annotations

import os
from pathlib import Path

from flashport.bench.cpu import CpuWatch

PROC = Path("/proc")
BY_NAME = {"postgres": "postgres", "redis": "redis-server", "nats": "nats-server"}  # part: process name
BY_COMMAND = {"api": ("flashport", "serve"), "worker": ("flashport", "worker")}  # part: command words


def discover() -> dict[str, list[int]]:
    """The root processes of each part running on this machine (a part's own children are counted with
    it by the watch), and this process as the generator. Empty where there is no ``/proc``."""
    if not PROC.is_dir():
        return {}
    parents: dict[int, int] = {}
    names: dict[int, str] = {}
    for entry in PROC.iterdir():
        if entry.name.isdigit():
            stat = _stat(int(entry.name))
            if stat is not None:
                names[int(entry.name)], parents[int(entry.name)] = stat
    found: dict[str, list[int]] = {}
    for part, name in BY_NAME.items():
        roots = [pid for pid, each in names.items() if each == name and names.get(parents[pid]) != name]
        if roots:
            found[part] = roots
    for part, words in BY_COMMAND.items():
        matching = {pid for pid in names if _has_words(_command(pid), words)}
        roots = [pid for pid in matching if parents[pid] not in matching]
        if roots:
            found[part] = roots
    found["generator"] = [os.getpid()]
    return found


def _stat(pid: int) -> tuple[str, int] | None:
    """A process's name and parent, or None once it is gone."""
    try:
        stat = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    return stat[stat.index("(") + 1 : stat.rindex(")")], int(stat[stat.rindex(")") + 2 :].split()[1])


def _command(pid: int) -> list[str]:
    try:
        raw = (PROC / str(pid) / "cmdline").read_bytes()
    except OSError:
        return []
    return [arg.decode(errors="replace").rsplit("/", 1)[-1] for arg in raw.split(b"\0") if arg]


def _has_words(command: list[str], words: tuple[str, ...]) -> bool:
    """``python -m flashport serve ...`` or ``flashport serve ...``: the words in the order given."""
    at = 0
    for arg in command:
        if at < len(words) and arg == words[at]:
            at += 1
    return bool(command) and at == len(words)


def lines(watch: CpuWatch, orders: int, wal_bytes: int | None) -> list[tuple[str, str]]:
    """What each part spent, in all and per order, and the write-ahead log the orders wrote."""
    per_order = watch.per_order_us(orders)
    shown = [
        (f"CPU {name}", f"{seconds:.2f} s = {per_order[name]:,.0f} us per order")
        for name, seconds in watch.used.items()
    ]
    if wal_bytes is not None and orders:
        shown.append(
            ("PostgreSQL WAL", f"{wal_bytes / 1e6:,.1f} MB = {wal_bytes / orders:,.0f} bytes per order")
        )
    return shown
