"""The supervisor behind ``flashport demo`` stops its children one at a time, the last started first:
the worker must finish while the API it calls still answers (a stop that sent SIGTERM to both at once
let the worker's last call meet a closed port, and the demo logged a WARNING on every clean stop)."""

from __future__ import annotations

import os
import signal
import sys
import textwrap
from pathlib import Path

from flashport.supervisor import Child, Supervisor

# A child that writes "<name> ready" once its SIGTERM handler is in place. On SIGTERM it writes
# "<name> term"; when it was started with a peer, it then watches the peer's journal for up to
# WATCH seconds (the peer's "term" would come within that if it were signalled at the same time)
# and writes "<name> exit" before it exits.
_CHILD = textwrap.dedent(
    """
    import os, signal, sys, time
    name, journal, peer = sys.argv[1], sys.argv[2], sys.argv[3]

    def note(text):
        with open(journal, "a") as f:
            f.write(f"{name} {text}\\n")

    def on_term(signum, frame):
        note("term")
        if peer != "-":
            deadline = time.monotonic() + 1.0
            while time.monotonic() < deadline:
                with open(journal) as f:
                    if f"{peer} term" in f.read():
                        break
                time.sleep(0.02)
        note("exit")
        sys.exit(0)

    signal.signal(signal.SIGTERM, on_term)
    note("ready")
    while True:
        time.sleep(1)
    """
)


def _ready(journal: Path, name: str):
    return lambda: journal.exists() and f"{name} ready" in journal.read_text()


def test_a_stop_signal_stops_the_last_started_child_before_the_first_one(tmp_path: Path) -> None:
    script = tmp_path / "child.py"
    script.write_text(_CHILD)
    journal = tmp_path / "journal"
    api = Child("api", [sys.executable, str(script), "api", str(journal), "-"], _ready(journal, "api"))
    worker = Child(
        "worker", [sys.executable, str(script), "worker", str(journal), "api"], _ready(journal, "worker")
    )

    code = Supervisor(os.environ, grace_seconds=30).run(
        [api, worker], on_ready=lambda: os.kill(os.getpid(), signal.SIGTERM)
    )

    assert code == 0
    lines = journal.read_text().splitlines()
    assert lines == ["api ready", "worker ready", "worker term", "worker exit", "api term", "api exit"]


def test_a_child_that_ignores_the_stop_is_killed_after_the_grace_period(tmp_path: Path) -> None:
    script = tmp_path / "stubborn.py"
    script.write_text(
        "import signal, sys, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        f"open({str(tmp_path / 'ready')!r}, 'w').close()\n"
        "while True:\n    time.sleep(1)\n"
    )
    child = Child("stubborn", [sys.executable, str(script)], lambda: (tmp_path / "ready").exists())
    supervisor = Supervisor(os.environ, grace_seconds=0.2)

    code = supervisor.run([child], on_ready=lambda: os.kill(os.getpid(), signal.SIGTERM))

    assert code == 0
    ((_, process),) = supervisor._running
    assert process.returncode == -signal.SIGKILL
