"""How FLASHPORT_REDIS_URL names one Redis or a Redis Cluster."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster

from flashport.adapters.redis_client import connect, parse_cluster_url


def test_a_cluster_url_lists_its_nodes_and_credentials() -> None:
    nodes, user, password, tls = parse_cluster_url(
        "rediss+cluster://app:s%40cret@10.0.0.1:7000,10.0.0.2:7001/0"
    )
    assert (nodes, user, password, tls) == ([("10.0.0.1", 7000), ("10.0.0.2", 7001)], "app", "s@cret", True)
    assert parse_cluster_url("redis+cluster://:pw@[::1]:7000") == ([("::1", 7000)], None, "pw", False)


@pytest.mark.parametrize(
    "url",
    ["redis+cluster://a:7000/1", "redis+cluster://a", "redis+cluster://", "redis+cluster://a:1?x=y"],
)
def test_a_cluster_url_that_cannot_be_served_as_written_is_refused(url: str) -> None:
    with pytest.raises(ValueError):
        parse_cluster_url(url)


async def test_the_scheme_chooses_the_client() -> None:
    one, cluster = connect("redis://127.0.0.1:6379/0"), connect("redis+cluster://127.0.0.1:7000")
    assert isinstance(one, Redis) and isinstance(cluster, RedisCluster)
    await one.aclose()
    await cluster.aclose()
