"""A throwaway Redis Cluster on loopback for the tests: three masters, each with one replica, on ports
chosen when it starts (CI and other sessions run beside us), in a folder of its own, killed and removed
afterwards. Made with ``redis-server --cluster-enabled yes`` and ``redis-cli --cluster create``,
exactly as an operator would make one.

Nothing here sleeps for a fixed time: every step waits for the condition it needs (a node answering,
``cluster_state:ok`` on every node, a replica promoted)."""

from __future__ import annotations

import contextlib
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import redis

BUS_OFFSET = 10_000  # Redis Cluster's node-to-node bus listens on the data port plus this
NODE_TIMEOUT_MS = 1_000  # how long a silent master takes to be failed over (Redis's default: 15 s)
START_WITHIN = 60.0


class ClusterUnavailable(RuntimeError):
    """redis-server or redis-cli is missing, or the cluster did not form: the tests say so and fail."""


def _port_pair_free(port: int) -> bool:
    for candidate in (port, port + BUS_OFFSET):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", candidate))
            except OSError:
                return False
    return True


def free_cluster_ports(count: int) -> list[int]:
    """``count`` loopback ports, each free together with its bus port (port + 10,000)."""
    ports: list[int] = []
    while len(ports) < count:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if port + BUS_OFFSET < 65_536 and port not in ports and _port_pair_free(port):
            ports.append(port)
    return ports


def _until(check: Callable[[], object], what: str, within: float = START_WITHIN) -> None:
    """Poll ``check`` until it holds (a node still starting answers with an error: not yet)."""
    deadline = time.monotonic() + within
    while True:
        try:
            if check():
                return
        except (redis.RedisError, OSError):
            pass
        if time.monotonic() > deadline:
            raise ClusterUnavailable(f"{what} did not happen within {within} s")
        time.sleep(0.05)


@dataclass
class Node:
    port: int
    process: subprocess.Popen[bytes]

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, socket_timeout=10, decode_responses=True)

    def info(self, section: str) -> dict[str, object]:
        with self.client() as c:
            return dict(c.info(section))

    def is_master(self) -> bool:
        return self.info("replication").get("role") == "master"


@dataclass
class LocalCluster:
    folder: Path
    nodes: list[Node] = field(default_factory=list)

    @property
    def url(self) -> str:
        """The ``FLASHPORT_REDIS_URL`` naming every node (any one would do: the rest are discovered)."""
        return "redis+cluster://" + ",".join(f"127.0.0.1:{n.port}" for n in self.nodes)

    def alive(self) -> list[Node]:
        return [n for n in self.nodes if n.process.poll() is None]

    def state_ok(self) -> bool:
        for node in self.alive():
            with node.client() as c:
                if c.execute_command("CLUSTER", "INFO").find("cluster_state:ok") < 0:
                    return False
        return True

    def node_of_slot(self, key: str) -> Node:
        """The master that holds ``key``'s slot now."""
        for node in self.alive():
            with node.client() as c:
                slot = int(c.execute_command("CLUSTER", "KEYSLOT", key))
                for start, end, master, *_ in c.execute_command("CLUSTER", "SLOTS"):
                    if start <= slot <= end:
                        port = int(master[1])
                        return next(n for n in self.nodes if n.port == port)
        raise ClusterUnavailable(f"no live node knows the slot of {key}")

    def replica_of(self, master: Node) -> Node:
        for node in self.alive():
            info = node.info("replication")
            if info.get("role") == "slave" and int(str(info.get("master_port"))) == master.port:
                return node
        raise ClusterUnavailable(f"the master on port {master.port} has no replica")

    def restart(self, node: Node) -> None:
        """Start a killed node again, from its own nodes.conf: a master that was failed over comes back
        as a replica of the node that replaced it (and copies its data afresh)."""
        assert node.process.poll() is not None, "restart a node that is down"
        node.process = _start_node(_require("redis-server"), self.folder, node.port).process

    def has_replica(self, master: Node) -> bool:
        """``master`` has a replica that is in sync (online)."""
        info = master.info("replication")
        return int(str(info.get("connected_slaves", 0))) > 0 and "online" in str(info.get("slave0", ""))

    def wait_ok(self, within: float = START_WITHIN) -> None:
        _until(self.state_ok, "cluster_state:ok on every node", within)

    def wait_promoted(self, replica: Node, within: float = START_WITHIN) -> None:
        """Until ``replica`` has taken its dead master's place and the cluster serves every slot."""
        _until(lambda: replica.is_master() and self.state_ok(), f"port {replica.port} promoted", within)

    def stop(self) -> None:
        for node in self.nodes:
            if node.process.poll() is None:
                node.process.send_signal(signal.SIGKILL)
        for node in self.nodes:
            with contextlib.suppress(subprocess.TimeoutExpired):
                node.process.wait(timeout=10)
        shutil.rmtree(self.folder, ignore_errors=True)


def _require(program: str) -> str:
    found = shutil.which(program)
    if found is None:
        raise ClusterUnavailable(
            f"{program} is not installed: the Redis Cluster tests need redis-server and redis-cli "
            "(Debian/Ubuntu: apt-get install redis-server)"
        )
    return found


def _start_node(server: str, folder: Path, port: int) -> Node:
    home = folder / str(port)
    home.mkdir(exist_ok=True)
    argv = [
        server,
        "--port", str(port),
        "--bind", "127.0.0.1",
        "--cluster-enabled", "yes",
        "--cluster-config-file", str(home / "nodes.conf"),
        "--cluster-node-timeout", str(NODE_TIMEOUT_MS),
        "--dir", str(home),
        "--save", "",
        "--appendonly", "no",
        "--daemonize", "no",
        "--logfile", str(home / "redis.log"),
    ]  # fmt: skip
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return Node(port, process)


@contextlib.contextmanager
def local_cluster(folder: Path, masters: int = 3, replicas: int = 1) -> Iterator[LocalCluster]:
    """A cluster of ``masters`` masters with ``replicas`` replicas each, ready (``cluster_state:ok``)."""
    server, cli = _require("redis-server"), _require("redis-cli")
    folder.mkdir(parents=True, exist_ok=True)
    cluster = LocalCluster(folder)
    try:
        for port in free_cluster_ports(masters * (1 + replicas)):
            cluster.nodes.append(_start_node(server, folder, port))
        for node in cluster.nodes:
            _until(lambda n=node: n.client().ping(), f"redis-server on port {node.port} answering")
        created = subprocess.run(
            [
                cli,
                "--cluster",
                "create",
                *(f"127.0.0.1:{n.port}" for n in cluster.nodes),
                "--cluster-replicas",
                str(replicas),
                "--cluster-yes",
            ],
            capture_output=True,
            text=True,
            timeout=START_WITHIN,
        )
        if created.returncode != 0:
            raise ClusterUnavailable(f"redis-cli --cluster create failed: {created.stdout}{created.stderr}")
        cluster.wait_ok()
        _until(lambda: _replicas_in_sync(cluster, masters * replicas), "every replica in sync")
        yield cluster
    finally:
        cluster.stop()


def _replicas_in_sync(cluster: LocalCluster, expected: int) -> bool:
    synced = 0
    for node in cluster.alive():
        info = node.info("replication")
        if info.get("role") == "slave" and info.get("master_link_status") == "up":
            synced += 1
    return synced == expected
