"""How FLASHPORT_REDIS_URL names one Redis or a Redis Cluster."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster

from flashport.adapters.redis_client import connect, is_cluster_url, parse_cluster_url


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


async def test_the_scheme_or_a_list_of_nodes_chooses_the_client() -> None:
    one = connect("redis://127.0.0.1:6379/0")
    clusters = [connect("redis+cluster://127.0.0.1:7000"), connect("redis://127.0.0.1:7000,127.0.0.1:7001")]
    assert isinstance(one, Redis)
    assert all(isinstance(c, RedisCluster) for c in clusters)
    assert is_cluster_url("rediss://a:1,b:2/0") and not is_cluster_url("redis://a:1/0")
    for client in [one, *clusters]:
        await client.aclose()


def test_settings_refuse_a_cluster_url_they_cannot_serve_at_start_up() -> None:
    from flashport.settings import Settings

    with pytest.raises(ValueError, match="FLASHPORT_REDIS_URL: a Redis Cluster has database 0 only"):
        Settings(env="test", redis_url="redis+cluster://10.0.0.1:7000/2")
    assert Settings(env="test", redis_url="redis://10.0.0.1:7000,10.0.0.2:7000").redis_url
