"""Operators' screens left open on the live sale board during the record benchmark (``flashport bench
--board-screens N``): N screens, each polling ``GET /api/v1/admin/board`` once a second as the console's
page does, from a thread of their own beside the load generator. Run with and without them, side by
side, to see what the board costs the buy path."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import httpx

from flashport.bench.loadgen import Target

PATH = "/api/v1/admin/board"


@dataclass
class ScreensReport:
    screens: int
    polls: int = 0
    failures: int = 0  # any answer but 200, or no answer
    latencies_ms: list[float] = field(default_factory=list)

    def percentile(self, share: float) -> float | None:
        """Nearest-rank percentile of the poll latencies, in ms."""
        if not self.latencies_ms:
            return None
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, max(0, int(share * len(ordered) + 0.999999) - 1))]

    def as_json(self) -> dict[str, object]:
        return {
            "screens": self.screens,
            "polls": self.polls,
            "failures": self.failures,
            "p50_ms": self.percentile(0.5),
            "p99_ms": self.percentile(0.99),
        }


class BoardScreens:
    """``start()`` before the rush, ``stop()`` after it; ``report`` holds what the screens saw."""

    def __init__(self, target: Target, token: str, screens: int, *, every: float = 1.0) -> None:
        self.report = ScreensReport(screens)
        self._target, self._token, self._every = target, token, every
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="board-screens", daemon=True)

    def start(self) -> None:
        if self.report.screens:
            self._thread.start()

    def stop(self) -> ScreensReport:
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join()
        return self.report

    def _run(self) -> None:
        base = f"http://{self._target.host}:{self._target.port}"
        headers = {"Authorization": f"Bearer {self._token}"}
        # One client (one connection) per screen, polled in turn, each once per ``every`` seconds.
        clients = [
            httpx.Client(base_url=base, headers=headers, timeout=10.0) for _ in range(self.report.screens)
        ]
        gap = self._every / self.report.screens
        try:
            turn = 0
            while not self._stopping.wait(gap):
                self._poll(clients[turn % len(clients)])
                turn += 1
        finally:
            for client in clients:
                client.close()

    def _poll(self, client: httpx.Client) -> None:
        started = time.perf_counter()
        try:
            ok = client.get(PATH).status_code == 200
        except httpx.HTTPError:
            ok = False
        self.report.polls += 1
        if ok:
            self.report.latencies_ms.append((time.perf_counter() - started) * 1000)
        else:
            self.report.failures += 1
