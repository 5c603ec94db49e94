"""Several API nodes behind HAProxy: the load balancer's configuration, and ``flashport serve-cluster``,
which runs N ``flashport serve`` processes on ports of their own and HAProxy in front of them.

Why the nodes need nothing from each other: every node keeps the same per-process state a
``serve --workers N`` process keeps (the sold-out board, cached item terms, ended sessions), and each
piece has its own way of hearing about changes another node makes (README, "Several API nodes"). So the
load balancer may send any request to any node: round robin, no stickiness.

What the configuration asks of HAProxy:
- round robin over the nodes, HTTP keep-alive on both sides (a buyer's connection stays open and HAProxy
  reuses its idle connections to the nodes);
- a health check of ``GET /readyz`` every second: a node whose database or Redis does not answer (503)
  is taken out after two failed checks and back after two good ones;
- ``X-Flashport-Node`` on every answer, naming the node that gave it (set by HAProxy, so it costs the
  API nothing), for whoever must find which node answered a complaint;
- ``X-Forwarded-For`` with the buyer's address: set ``FLASHPORT_FORWARDED_ALLOW_IPS`` on the nodes to
  HAProxy's address so they believe it (rate limits and the waiting room count per address).
"""

from __future__ import annotations

import shutil
import socket
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

HAPROXY = "haproxy"
# Purchases queue at a node beyond this many in flight on one of HAProxy's connections to it, rather
# than opening ever more connections (each uvicorn connection costs the node memory and a read loop).
NODE_MAXCONN = 1024


@dataclass(frozen=True)
class Node:
    name: str
    host: str
    port: int

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


def nodes_from(addresses: Sequence[str]) -> list[Node]:
    """``host:port`` strings as nodes named node1, node2, ... in the order given."""
    nodes = []
    for number, address in enumerate(addresses, start=1):
        host, _, port = address.rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(f"a node is host:port, not {address!r}")
        nodes.append(Node(f"node{number}", host, int(port)))
    return nodes


def haproxy_config(bind: str, nodes: Sequence[Node], *, max_connections: int = 4096) -> str:
    """HAProxy's configuration (2.4 or newer) for ``nodes`` behind ``bind`` (``host:port``), to run in
    the foreground (``haproxy -db -f FILE``) by an unprivileged user: no chroot, no daemon, no socket."""
    servers = "\n".join(f"    server {n.name} {n.address}" for n in nodes)
    return f"""\
# Flashport's API nodes behind HAProxy, as `flashport haproxy-config` writes it (README "Several API nodes").
global
    maxconn {max_connections}

defaults
    mode http
    option http-keep-alive
    option forwardfor
    timeout connect 5s
    # Longer than the API's own deadlines (a purchase is answered within FLASHPORT_BUY_DEADLINE_SECONDS).
    timeout client 60s
    timeout server 60s
    timeout http-keep-alive 60s
    # A node that refuses the connection (stopping, restarting) is skipped for another one.
    retries 2
    option redispatch

frontend flashport
    bind {bind}
    default_backend flashport_api

backend flashport_api
    balance roundrobin
    option httpchk
    http-check send meth GET uri /readyz
    http-check expect status 200
    default-server check inter 1s fall 2 rise 2 maxconn {NODE_MAXCONN}
    http-response set-header X-Flashport-Node %[srv_name]
{servers}
"""


def free_port(host: str = "127.0.0.1") -> int:
    """A port free on ``host`` right now (another process could take it before the node binds it: the
    node then fails to start, and serve-cluster stops)."""
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def answers(url: str) -> Callable[[], bool]:
    """A readiness probe: whether ``url`` answers 200 now."""

    def probe() -> bool:
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                return bool(answer.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    return probe


def haproxy_binary() -> str:
    found = shutil.which(HAPROXY)
    if found is None:
        raise FileNotFoundError(
            "haproxy is not installed: `apt-get install haproxy` (Debian), or scripts/ensure-haproxy.sh"
        )
    return found


def serve_cluster(host: str, port: int, count: int, data_dir: Path, env: Mapping[str, str]) -> int:
    """Run ``count`` API nodes on free ports of ``host`` and HAProxy on ``host:port`` in front of them,
    until SIGTERM or SIGINT, or until one of them exits (then the others are stopped too). Returns the
    exit code. The nodes share the environment (the same database, Redis and keys); each is told the
    load balancer's address as its public URL."""
    from flashport.supervisor import Child, Supervisor

    nodes = [Node(f"node{i}", host, free_port(host)) for i in range(1, count + 1)]
    config = data_dir / f"haproxy-{port}.cfg"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(haproxy_config(f"{host}:{port}", nodes))
    shared = dict(env)
    shared.setdefault("FLASHPORT_PUBLIC_URL", f"http://{host}:{port}")
    python = [sys.executable, "-m", "flashport", "serve", "--host", host]
    children = [
        Child(n.name, [*python, "--port", str(n.port)], answers(f"http://{n.address}/livez")) for n in nodes
    ]
    children.append(
        Child(
            "haproxy", [haproxy_binary(), "-db", "-f", str(config)], answers(f"http://{host}:{port}/readyz")
        )
    )
    listed = ", ".join(f"{n.name} {n.address}" for n in nodes)
    line = f"Flashport: {count} API nodes ({listed}) behind HAProxy on http://{host}:{port} (config {config})"
    return Supervisor(shared).run(children, on_ready=lambda: print(line, flush=True))
