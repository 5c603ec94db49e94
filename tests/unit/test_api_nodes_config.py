"""The load balancer's configuration for several API nodes, as text (tests/integration/test_api_nodes.py
has HAProxy check it and run it)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from flashport.api_nodes import Node, haproxy_config, nodes_from
from flashport.cli import main


def test_every_node_is_a_checked_server_of_one_round_robin_backend() -> None:
    config = haproxy_config(
        "127.0.0.1:9000", [Node("node1", "10.0.0.1", 8001), Node("node2", "10.0.0.2", 8001)]
    )
    assert "bind 127.0.0.1:9000" in config
    assert "balance roundrobin" in config
    assert "http-check send meth GET uri /readyz" in config
    assert "default-server check inter 1s" in config
    assert "option http-keep-alive" in config
    assert "    server node1 10.0.0.1:8001\n    server node2 10.0.0.2:8001\n" in config
    assert "X-Flashport-Node %[srv_name]" in config


def test_nodes_are_host_and_port_named_in_order() -> None:
    assert nodes_from(["10.0.0.1:8001", "[::1]:8002"]) == [
        Node("node1", "10.0.0.1", 8001),
        Node("node2", "[::1]", 8002),
    ]
    with pytest.raises(ValueError, match="host:port"):
        nodes_from(["10.0.0.1"])


def test_the_command_prints_the_configuration_or_refuses_a_bad_node() -> None:
    printed = CliRunner().invoke(main, ["haproxy-config", "--bind", ":80", "10.0.0.1:8000"])
    assert printed.exit_code == 0
    assert "server node1 10.0.0.1:8000" in printed.output
    refused = CliRunner().invoke(main, ["haproxy-config", "10.0.0.1"])
    assert refused.exit_code == 2
    assert "host:port" in refused.output


def test_the_shipped_example_is_what_the_command_writes() -> None:
    shipped = Path(__file__).parents[2] / "deploy" / "haproxy.cfg"
    nodes = nodes_from(["10.0.0.11:8000", "10.0.0.12:8000", "10.0.0.13:8000"])
    assert shipped.read_text() == haproxy_config("0.0.0.0:80", nodes)
