"""The one Redis client of a process, from ``FLASHPORT_REDIS_URL``: one server, or a Redis Cluster.

``redis://host:6379/0`` (or ``rediss://``, ``unix://``) names one server. ``redis+cluster://host:port``
(or ``rediss+cluster://``) names a cluster; several nodes may be listed, comma-separated
(``redis+cluster://a:7000,b:7000,c:7000``, or ``redis://a:7000,b:7000,c:7000``, since a list of nodes
means nothing else): the client starts from whichever answers and learns the rest, and its slot map
follows failovers and resharding on its own (MOVED / ASK answers).

Everything above this module is written for both: every Lua script is handed all the keys it touches
and those keys share one hash tag (one slot), pipelines are not transactions across slots, and pub/sub
uses classic PUBLISH, which a cluster delivers to subscribers on every node.
"""

from __future__ import annotations

from urllib.parse import unquote

import redis.asyncio as aioredis
from redis.asyncio.cluster import ClusterNode, RedisCluster

CLUSTER_SCHEMES = {"redis+cluster": False, "rediss+cluster": True}  # scheme -> TLS
LIST_SCHEMES = {"redis": False, "rediss": True}  # with several nodes listed, a cluster too
MAX_CONNECTIONS = 128  # per server (per node in a cluster)
POOL_TIMEOUT = 5.0  # seconds a command waits for a free connection before failing

RedisClient = aioredis.Redis | RedisCluster


def is_cluster_url(url: str) -> bool:
    """``redis+cluster://...``, or ``redis://a:7000,b:7000`` (a list of nodes means nothing else)."""
    scheme, _, rest = url.partition("://")
    if scheme.lower() in CLUSTER_SCHEMES:
        return True
    return scheme.lower() in LIST_SCHEMES and "," in rest.partition("/")[0]


def connect(url: str) -> RedisClient:
    """A client for ``url``; nothing is connected until the first command."""
    if not is_cluster_url(url):
        # A blocking pool makes a burst of requests queue for a connection instead of failing.
        pool = aioredis.BlockingConnectionPool.from_url(
            url, max_connections=MAX_CONNECTIONS, timeout=POOL_TIMEOUT
        )
        return aioredis.Redis(connection_pool=pool)
    nodes, username, password, tls = parse_cluster_url(url)
    return RedisCluster(
        startup_nodes=[ClusterNode(host, port) for host, port in nodes],
        username=username,
        password=password,
        ssl=tls,
        # Per node. The cluster client cannot queue for a connection: past this many commands in
        # flight to one node it fails them (503). The buy path batches, so it stays far below.
        max_connections=MAX_CONNECTIONS,
    )


def parse_cluster_url(url: str) -> tuple[list[tuple[str, int]], str | None, str | None, bool]:
    """``redis+cluster://[user:password@]host:port[,host:port...][/0]`` -> nodes, user, password, TLS.
    A cluster has database 0 only, so any other is refused rather than ignored."""
    scheme, rest = url.split("://", 1)
    tls = {**CLUSTER_SCHEMES, **LIST_SCHEMES}[scheme.lower()]
    rest, _, query = rest.partition("?")
    if query:
        raise ValueError(f"options in a cluster URL are not supported: ?{query}")
    rest, _, database = rest.partition("/")
    if database not in ("", "0"):
        raise ValueError(f"a Redis Cluster has database 0 only, not {database}")
    auth, _, hosts = rest.rpartition("@")
    username = password = None
    if auth:
        user, colon, secret = auth.partition(":")
        username = unquote(user) or None
        password = unquote(secret) if colon else None
    nodes = []
    for address in filter(None, hosts.split(",")):
        host, _, port = address.rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(f"a cluster node must be host:port, not {address!r}")
        nodes.append((host.strip("[]"), int(port)))
    if not nodes:
        raise ValueError("a cluster URL names at least one node")
    return nodes, username, password, tls
