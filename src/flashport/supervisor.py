"""Child processes started in order and stopped together: how ``flashport demo`` runs the API and the
worker.

Each child starts once the one before it is ready, so the worker never calls an API (and the partners
mounted in it) that is not listening yet. Failure policy: a child that exits on its own, while starting
(a port already taken) or later (a crash), stops the others, and the parent exits non-zero. SIGTERM or
SIGINT to the parent stops every child, the last started first (SIGTERM, then SIGKILL after a grace
period), and the parent exits 0: a stop that was asked for is not a failure.

Each child runs in a process group of its own, so a Ctrl-C in the terminal reaches the parent alone,
which stops the children in order (a child still importing would otherwise die of it with a
traceback). On Linux a child also gets SIGTERM if the parent dies without stopping it (``kill -9``).
"""

from __future__ import annotations

import ctypes
import logging
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import FrameType

log = logging.getLogger("flashport.supervisor")

POLL_SECONDS = 0.1  # how often a starting child is asked whether it is ready, and children checked


@dataclass(frozen=True)
class Child:
    """A process to run. ``ready`` answers whether it serves yet (it must return quickly); without it
    the child counts as ready once started."""

    name: str
    argv: Sequence[str]
    ready: Callable[[], bool] | None = None


class Supervisor:
    def __init__(
        self, env: Mapping[str, str], *, ready_within: float = 120.0, grace_seconds: float = 15.0
    ) -> None:
        self._env = dict(env)
        self._ready_within = ready_within
        self._grace = grace_seconds
        self._stop = threading.Event()  # set by SIGTERM or SIGINT
        self._running: list[tuple[Child, subprocess.Popen[bytes]]] = []

    def run(self, children: Sequence[Child], on_ready: Callable[[], None] = lambda: None) -> int:
        """Start ``children`` in order, call ``on_ready`` once all are ready, and wait for a stop signal
        or a child's exit; then stop every child. Returns the code the parent should exit with.
        Must be called from the main thread (it installs the signal handlers, and restores them)."""
        previous = {sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            failed = self._start(children)
            if failed is not None:
                return failed
            if not self._stop.is_set():
                on_ready()
            return self._watch()
        finally:
            self._stop_all()
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        log.info("%s received: stopping", signal.Signals(signum).name)
        self._stop.set()

    def _start(self, children: Sequence[Child]) -> int | None:
        """None when every child started (or a stop signal came first); else the exit code."""
        for child in children:
            if self._stop.is_set():
                return None
            process = subprocess.Popen(
                list(child.argv), env=self._env, process_group=0, preexec_fn=_stop_with_parent
            )
            self._running.append((child, process))
            failed = self._await_ready(child, process)
            if failed is not None:
                return failed
        return None

    def _await_ready(self, child: Child, process: subprocess.Popen[bytes]) -> int | None:
        deadline = time.monotonic() + self._ready_within
        while not self._stop.is_set():
            if process.poll() is not None:
                log.error("%s exited with code %s before it was ready", child.name, process.returncode)
                return _failure_code(process.returncode)
            if child.ready is None or child.ready():
                return None
            if time.monotonic() > deadline:
                log.error("%s was not ready within %.0f s", child.name, self._ready_within)
                return 1
            self._stop.wait(POLL_SECONDS)
        return None

    def _watch(self) -> int:
        while not self._stop.wait(POLL_SECONDS):
            for child, process in self._running:
                if process.poll() is not None:
                    log.error("%s exited with code %s: stopping the others", child.name, process.returncode)
                    return _failure_code(process.returncode)
        return 0

    def _stop_all(self) -> None:
        """Stop the children one at a time, the last started first, each given the grace period: the
        worker finishes its pass while the API (and the partners mounted in it) still answers."""
        for child, process in reversed(self._running):
            if process.poll() is not None:
                continue
            process.terminate()
            try:
                process.wait(timeout=self._grace)
            except subprocess.TimeoutExpired:
                log.error("%s did not stop within %.0f s: killed", child.name, self._grace)
                process.kill()
                process.wait()


PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


def _stop_with_parent() -> None:
    """Run in the child between fork and exec: ask Linux for SIGTERM when the parent dies."""
    if sys.platform == "linux":
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _failure_code(returncode: int) -> int:
    """A child's own non-zero code, or 1 (a child killed by a signal has a negative one; an exit 0
    that nobody asked for is a failure too)."""
    return returncode if returncode > 0 else 1
