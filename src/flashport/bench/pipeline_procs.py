"""The processes of a pipeline run: the platform API, the workers and the three partners, each a real
``flashport`` command in its own OS process, logging to a file of its own in the run's folder.

Children start in a session of their own, so a Ctrl-C in the terminal reaches only the bench, which then
stops them in order (SIGTERM, then SIGKILL after a grace period): none is left behind, whatever ended the
run. CPU time is read from ``/proc/<pid>/stat`` (Linux), user plus system, including waited-for
children of the child.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx

from flashport.settings import Settings

GRACE_SECONDS = 10.0  # a clean stop of each child may take this long before it is killed
LOGISTICS_KEY = "bench-pipeline-key"
# The settings the run decides itself; any value of these in the caller's environment is dropped.
RUN_OWNED = (
    "FLASHPORT_PORT",
    "FLASHPORT_WORKERS",
    "FLASHPORT_PAYMENT_APP_PRIVATE_KEY",
    "FLASHPORT_PAYMENT_PROVIDER_PUBLIC_KEY",
    "FLASHPORT_SANDBOX_MERCHANT_PUBLIC_KEY",
    "FLASHPORT_CUSTOMS_SIGNING_KEY",
)


class ChildFailed(RuntimeError):
    """A child process died, or did not come up in time."""


@dataclass(frozen=True)
class Ports:
    platform: int
    pay: int
    customs: int
    carrier: int

    @classmethod
    def free(cls) -> Ports:
        return cls(*(free_port() for _ in range(4)))

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{getattr(self, name)}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def settings_env(settings: Settings) -> dict[str, str]:
    """The settings that were given explicitly (environment or overrides) as FLASHPORT_* variables, so
    every child runs with what this process runs with."""
    env: dict[str, str] = {}
    for name in settings.model_fields_set:
        value = getattr(settings, name)
        if value is None:
            continue
        text = ("true" if value else "false") if isinstance(value, bool) else str(value)
        env[f"FLASHPORT_{name.upper()}"] = text
    return env


def child_env(settings: Settings, run_dir: Path, ports: Ports, carrier_key: str) -> dict[str, str]:
    """One environment for every child: the platform's settings, the run's folder (keys, partner
    records), and every partner URL pointing at the run's own partners. The carrier follows its
    partner feed with ``carrier_key`` and takes released parcels from it."""
    env = {k: v for k, v in os.environ.items() if k not in RUN_OWNED}
    env |= {k: v for k, v in settings_env(settings).items() if k not in RUN_OWNED}
    platform, pay, customs, carrier = (ports.url(n) for n in ("platform", "pay", "customs", "carrier"))
    keys = settings.keys  # the run's children sign and seal with the bench's keys, not their folder's
    env |= {
        "FLASHPORT_DATA_DIR": str(run_dir),
        "FLASHPORT_SECRET_KEY": keys.secret,
        "FLASHPORT_IDENTITY_KEY": keys.identity_keys[0],
        "FLASHPORT_IDENTITY_HASH_KEY": keys.identity_hash_key,
        "FLASHPORT_PAYMENT_GATEWAY_URL": f"{pay}/gateway.do",
        "FLASHPORT_PAYMENT_NOTIFY_URL": f"{platform}/api/v1/payments/alipay/notify",
        "FLASHPORT_PAYMENT_RETURN_URL": f"{platform}/orders",
        "FLASHPORT_CUSTOMS_URL": customs,
        "FLASHPORT_LOGISTICS_URL": carrier,
        "FLASHPORT_LOGISTICS_API_KEY": LOGISTICS_KEY,
        "FLASHPORT_SANDBOX_PAY_MOUNTED": "false",
        "FLASHPORT_SANDBOX_CUSTOMS_MOUNTED": "false",
        "FLASHPORT_SANDBOX_LOGISTICS_MOUNTED": "false",
        # Every buyer of the run buys, checks out and pays from this machine's one address, faster than
        # any person would: the back office is measured here, not the rate limits.
        "FLASHPORT_RATE_LIMITS": "false",
        # The partners' own settings (each reads its own prefix and ignores the others').
        "FLASHPORT_SANDBOX_DATA_DIR": str(run_dir),
        "FLASHPORT_SANDBOX_CUSTOMS_URL": customs,
        "FLASHPORT_CUSTOMS_SIM_DATA_DIR": str(run_dir),
        # The single window trusts only registered certificates: the platform's, made before the
        # children start (see pipeline.run), registered to the agent that declares the lists.
        "FLASHPORT_CUSTOMS_SIM_CERTIFICATES": json.dumps(
            [f"platform:{settings.customs_agent_code}:{run_dir / 'customs' / 'signing-key.pem'}"]
        ),
        "FLASHPORT_SANDBOX_LOGISTICS_DATA_DIR": str(run_dir),
        "FLASHPORT_SANDBOX_LOGISTICS_CUSTOMS_URL": customs,
        "FLASHPORT_SANDBOX_LOGISTICS_API_KEY": LOGISTICS_KEY,
        "FLASHPORT_LOGISTICS_HANDOVER": "feed",
        "FLASHPORT_SANDBOX_LOGISTICS_PLATFORM_URL": platform,
        "FLASHPORT_SANDBOX_LOGISTICS_PARTNER_KEY": carrier_key,
    }
    env.setdefault("FLASHPORT_LOG_LEVEL", "info")
    return env


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a live process and of its waited-for children, from /proc/<pid>/stat."""
    text = Path(f"/proc/{pid}/stat").read_text()
    fields = text[text.rindex(")") + 2 :].split()  # the name in parentheses may hold spaces
    utime, stime, cutime, cstime = (int(f) for f in fields[11:15])  # fields 14-17 of proc(5)
    return (utime + stime + cutime + cstime) / os.sysconf("SC_CLK_TCK")


def backends_cpu(pids: list[int]) -> dict[str, float]:
    """CPU seconds of each PostgreSQL backend, as ``postgresql:<pid>``; none when the server is on
    another machine (its processes are not in this /proc) or a backend left in the meantime."""
    readings = {}
    for pid in pids:
        try:
            readings[f"postgresql:{pid}"] = cpu_seconds(pid)
        except (FileNotFoundError, ProcessLookupError, ValueError):
            continue
    return readings


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]
    log: Path

    def tail(self, lines: int = 30) -> str:
        text = self.log.read_text(errors="replace").splitlines() if self.log.exists() else []
        return "\n".join([f"--- {self.name} (exit {self.process.poll()}), {self.log}:", *text[-lines:]])


class Children:
    """The run's child processes; :meth:`stop_all` (also on failure) leaves none running."""

    def __init__(self, env: Mapping[str, str], run_dir: Path) -> None:
        self.env = dict(env)
        self.run_dir = run_dir
        self.started: list[Child] = []

    def start(self, name: str, *args: str) -> Child:
        log = self.run_dir / f"{name}.log"
        with log.open("wb") as out:  # the child keeps its own copy of the descriptor
            process = subprocess.Popen(
                [sys.executable, "-m", "flashport", *args],
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        child = Child(name, process, log)
        self.started.append(child)
        return child

    def check_alive(self) -> None:
        dead = [c for c in self.started if c.process.poll() is not None]
        if dead:
            raise ChildFailed(f"{', '.join(c.name for c in dead)} stopped:\n{self.tails(dead)}")

    def wait_http(self, child: Child, url: str, within: float = 60.0) -> None:
        """Until ``url`` answers anything over HTTP (the child is serving)."""
        deadline = time.monotonic() + within
        while True:
            self.check_alive()
            try:
                httpx.get(url, timeout=1.0)
                return
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise ChildFailed(f"{child.name} did not answer {url} within {within:.0f} s") from None
                time.sleep(0.1)

    def cpu(self) -> dict[str, float]:
        """CPU seconds of every child still running, by name."""
        return {c.name: cpu_seconds(c.process.pid) for c in self.started if c.process.poll() is None}

    def tails(self, children: list[Child] | None = None) -> str:
        return "\n".join(c.tail() for c in (children if children is not None else self.started))

    def stop_all(self) -> None:
        """The workers first, since they call the others, then the API and the partners: SIGTERM to
        each group, then SIGKILL to any still running after the grace period."""
        workers = [c for c in self.started if c.name.startswith("worker")]
        _stop(workers)
        _stop([c for c in self.started if c not in workers])


def _stop(children: list[Child]) -> None:
    for child in children:
        if child.process.poll() is None:
            child.process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + GRACE_SECONDS
    for child in children:
        try:
            child.process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.process.kill()
            child.process.wait()
