"""Several API nodes: separate ``flashport serve`` processes on ports of their own, on one PostgreSQL
database and one Redis prefix, with Debian's HAProxy in front of them (its configuration written here
at run time by ``flashport.api_nodes.haproxy_config``, on free ports).

What must hold whichever node a request reaches (README, "Several API nodes"):
- the sold-out board: an item sold out through one node is refused as sold out by every other, and a
  unit that comes back (a cancelled order) is sold again by every node;
- the item terms each node caches: a pause, a resume or a top-up made through one node reaches the
  purchases of the others;
- ended sessions: a log-out or a password change through one node makes the others refuse the token.

The tests start processes and talk HTTP; how a node learns of a change (Redis, pub/sub, its polls) is
the nodes' own business. Every wait is for an outcome (``eventually``), never for a length of time.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import signal
import sys
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher

from flashport.adapters.db import accounts_repo, migrate
from flashport.adapters.db.schema import sale_items, stock
from flashport.api_nodes import Node, haproxy_config
from flashport.bootstrap import build_context, close_context
from flashport.domain.accounts import Role
from flashport.sandbox_pay.keys import ensure_keys
from flashport.services.context import Context
from flashport.settings import Settings
from tests.conftest import REDIS_URL, _delete_redis_prefix, _pg_admin, _pg_url, _require_redis
from tests.factories import auth, make_user
from tests.sale_builder import Sale, make_buyers, make_sale
from tests.servers import ServerProcess, free_port
from tests.waiting import HTTP_TIMEOUT, eventually

NODES = 2
# How long a node may take to hear of a change made through another one. Documented: at once by Redis
# pub/sub (a restock, an ended session), and within the terms cache's 2 s for a pause; this is only the
# safety net of a loaded machine, not the figure under test (the tests print how long each took).
HEARD_WITHIN = 30.0


@dataclass
class Cluster:
    ctx: Context  # this test process's own context on the nodes' database and Redis prefix
    nodes: list[ServerProcess]
    lb: str  # HAProxy's base URL

    def node(self, index: int) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.nodes[index].url, trust_env=False, timeout=HTTP_TIMEOUT)

    def balanced(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.lb, trust_env=False, timeout=HTTP_TIMEOUT)


def _haproxy() -> str:
    found = shutil.which("haproxy")
    if found is None:
        pytest.fail(
            "haproxy is not installed: scripts/ensure-haproxy.sh installs Debian's package "
            "(make test-integration and make test-quick run it first)"
        )
    return found


def node_env(settings: Settings, lb_url: str) -> dict[str, str]:
    """A node's whole environment: the test's database, Redis prefix and data folder (its keys)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLASHPORT_", "PROMETHEUS_"))}
    assert settings.database_url is not None and settings.redis_url is not None
    return env | {
        "FLASHPORT_ENV": "test",
        "FLASHPORT_DATA_DIR": str(settings.data_dir),
        "FLASHPORT_DATABASE_URL": settings.database_url,
        "FLASHPORT_REDIS_URL": settings.redis_url,
        "FLASHPORT_REDIS_PREFIX": settings.redis_prefix,
        "FLASHPORT_PUBLIC_URL": lb_url,
        "FLASHPORT_RATE_LIMITS": "false",
        "FLASHPORT_FORWARDED_ALLOW_IPS": "127.0.0.1",
        "FLASHPORT_LOG_LEVEL": "warning",
    }


@contextlib.asynccontextmanager
async def haproxy_in_front(nodes: list[ServerProcess], port: int, folder: Path) -> AsyncIterator[str]:
    """HAProxy on ``port`` over ``nodes``, its configuration checked first; yields its URL once every
    node answers through it."""
    binary = _haproxy()
    config = folder / "haproxy.cfg"
    backends = [Node(f"node{i}", "127.0.0.1", int(n.url.rsplit(":", 1)[1])) for i, n in enumerate(nodes, 1)]
    config.write_text(haproxy_config(f"127.0.0.1:{port}", backends))
    check = await asyncio.create_subprocess_exec(binary, "-c", "-q", "-f", str(config))
    assert await check.wait() == 0, f"HAProxy refused its configuration:\n{config.read_text()}"
    log = folder / "haproxy.log"
    with log.open("wb") as out:
        process = await asyncio.create_subprocess_exec(
            binary, "-db", "-f", str(config), stdout=out, stderr=out
        )
    url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=url, trust_env=False, timeout=HTTP_TIMEOUT) as client:

            async def every_node_answers() -> bool:
                assert process.returncode is None, "HAProxy exited:\n" + log.read_text(errors="replace")
                seen: set[str] = set()
                for _ in range(2 * len(nodes)):
                    with contextlib.suppress(httpx.TransportError):
                        answer = await client.get("/readyz")
                        if answer.status_code == 200:
                            seen.add(answer.headers["x-flashport-node"])
                return len(seen) == len(nodes)

            await eventually(every_node_answers, within=60, what="every node answering through HAProxy")
        yield url
    finally:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
        await process.wait()


@pytest.fixture(scope="module")
async def cluster(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Cluster]:
    """NODES ``flashport serve`` processes and HAProxy, on a PostgreSQL database and a Redis prefix made
    for this module and removed after it. Each test makes its own sale and buyers."""
    await _require_redis()
    folder = tmp_path_factory.mktemp("api-nodes")
    name = f"fp_test_{uuid.uuid4().hex[:12]}"
    prefix = f"fpt{uuid.uuid4().hex[:10]}"
    demo = ensure_keys(folder)
    settings = Settings(
        env="test",
        data_dir=folder,
        database_url=_pg_url(name),
        redis_url=REDIS_URL,
        redis_prefix=prefix,
        rate_limits=False,
        payment_app_private_key=demo.merchant_private,
        payment_provider_public_key=demo.provider_public,
    )
    await _pg_admin(f'CREATE DATABASE "{name}"')
    try:
        await asyncio.to_thread(migrate.upgrade, settings)
        ctx = await build_context(settings, listen_for_restock=False)
        await make_buyers(ctx, 1)  # the keys in the data folder exist before any node reads them
        port = free_port()
        env = node_env(settings, f"http://127.0.0.1:{port}")
        async with contextlib.AsyncExitStack() as stack:
            stack.push_async_callback(close_context, ctx)
            nodes = list(await asyncio.gather(*(ServerProcess.start(env) for _ in range(NODES))))
            for node in nodes:
                stack.push_async_callback(node.stop)
            lb = await stack.enter_async_context(haproxy_in_front(nodes, port, folder))
            yield Cluster(ctx, nodes, lb)
    finally:
        await _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await _delete_redis_prefix(prefix)


async def buy(client: httpx.AsyncClient, token: str, item_id: int, key: str | None = None) -> httpx.Response:
    headers = auth(token) | {"Idempotency-Key": key or uuid.uuid4().hex}
    return await client.post(f"/api/v1/sale-items/{item_id}/buy", json={"quantity": 1}, headers=headers)


def code(answer: httpx.Response) -> str:
    """The error code of a refusal, or the status of anything else."""
    if answer.status_code >= 400 and answer.headers.get("content-type", "").startswith("application/json"):
        return str(answer.json().get("code", answer.status_code))
    return str(answer.status_code)


async def first_time(check: Any, what: str) -> float:
    """Seconds until ``check()`` holds (the safety net: HEARD_WITHIN), printed with what it was."""
    began = time.monotonic()
    await eventually(check, within=HEARD_WITHIN, every=0.02, what=what)
    took = time.monotonic() - began
    print(f"{what}: {took * 1000:.0f} ms")  # pytest -s shows how long it took
    return took


# -- the sold-out board -------------------------------------------------------------------------------


async def test_an_item_sold_out_through_one_node_is_refused_as_sold_out_by_the_other(
    cluster: Cluster,
) -> None:
    sale = await make_sale(cluster.ctx, quantity=2, limit=1)
    (_, first), (_, second), (_, late) = await make_buyers(cluster.ctx, 3)
    async with cluster.node(0) as a, cluster.node(1) as b:
        assert (await buy(a, first, sale.item_id)).status_code == 201
        assert (await buy(a, second, sale.item_id)).status_code == 201  # the last unit, through A
        # B never saw the sale run out: the stock engine is the truth, so its first purchase is refused.
        assert code(await buy(b, late, sale.item_id)) == "sold_out"
        assert code(await buy(a, late, sale.item_id)) == "sold_out"


async def test_a_unit_cancelled_through_one_node_is_sold_again_by_every_node(cluster: Cluster) -> None:
    sale = await make_sale(cluster.ctx, quantity=1, limit=1)
    (_, owner), (_, on_a), (_, on_b) = await make_buyers(cluster.ctx, 3)
    async with cluster.node(0) as a, cluster.node(1) as b:
        order = (await buy(a, owner, sale.item_id)).json()
        # Both nodes now hold the item as sold out in memory (each refused a purchase of it).
        assert code(await buy(a, on_a, sale.item_id)) == "sold_out"
        assert code(await buy(b, on_b, sale.item_id)) == "sold_out"
        cancelled = await b.post(f"/api/v1/orders/{order['order_no']}/cancel", headers=auth(owner))
        assert cancelled.status_code == 200, cancelled.text
        key = uuid.uuid4().hex  # one purchase, retried with its key until A sells it

        async def a_sells() -> bool:
            return (await buy(a, on_a, sale.item_id, key)).status_code == 201

        await first_time(a_sells, "a unit cancelled through node B sold by node A")
        # And the unit A sold is gone for B too; a second cancellation, through A, reaches B.
        assert code(await buy(b, on_b, sale.item_id)) == "sold_out"
        mine = await a.get("/api/v1/orders", headers=auth(on_a))
        [sold] = [o for o in mine.json() if o["status"] == "pending_payment"]
        assert (
            await a.post(f"/api/v1/orders/{sold['order_no']}/cancel", headers=auth(on_a))
        ).status_code == 200
        key = uuid.uuid4().hex

        async def b_sells() -> bool:
            return (await buy(b, on_b, sale.item_id, key)).status_code == 201

        await first_time(b_sells, "a unit cancelled through node A sold by node B")


# -- the item terms each node caches ------------------------------------------------------------------


async def test_a_pause_through_one_node_stops_purchases_on_the_other_and_a_resume_reopens_them(
    cluster: Cluster,
) -> None:
    sale = await make_sale(cluster.ctx, quantity=500, limit=1)
    _, operator = await make_user(cluster.ctx, Role.OPERATOR)
    buyers = iter(await make_buyers(cluster.ctx, 400))
    async with cluster.node(0) as a, cluster.node(1) as b:
        assert (await buy(b, next(buyers)[1], sale.item_id)).status_code == 201  # B caches the terms
        paused = await a.post(f"/api/v1/admin/sale-items/{sale.item_id}/pause", headers=auth(operator))
        assert paused.status_code == 200, paused.text
        assert code(await buy(a, next(buyers)[1], sale.item_id)) == "sale_paused"  # A at once
        sold_after_pause = 0

        async def b_refuses() -> bool:
            nonlocal sold_after_pause
            answer = code(await buy(b, next(buyers)[1], sale.item_id))  # a new buyer each time
            sold_after_pause += answer == "201"
            return answer == "sale_paused"

        await first_time(b_refuses, "a pause through node A refused by node B")
        print(f"units node B sold after the pause was answered: {sold_after_pause}")
        resumed = await a.post(f"/api/v1/admin/sale-items/{sale.item_id}/resume", headers=auth(operator))
        assert resumed.status_code == 200, resumed.text
        waiting, key = next(buyers)[1], uuid.uuid4().hex

        async def b_sells() -> bool:
            return (await buy(b, waiting, sale.item_id, key)).status_code == 201

        await first_time(b_sells, "a resume through node A sold by node B")


async def one_more_unit_in_the_warehouse(ctx: Context, sale: Sale) -> None:
    """A unit of the sale's SKU on hand and not allotted yet, for a top-up to draw."""
    async with ctx.transaction() as tx:
        item = (await tx.conn.execute(sa.select(sale_items).where(sale_items.c.id == sale.item_id))).one()
        where = (stock.c.sku_id == item.sku_id) & (stock.c.warehouse_id == item.warehouse_id)
        await tx.conn.execute(stock.update().where(where).values(on_hand=stock.c.on_hand + 1))


async def test_a_top_up_through_one_node_is_sold_by_the_other(cluster: Cluster) -> None:
    sale = await make_sale(cluster.ctx, quantity=1, limit=1)
    await one_more_unit_in_the_warehouse(cluster.ctx, sale)
    _, operator = await make_user(cluster.ctx, Role.OPERATOR)
    (_, first), (_, later) = await make_buyers(cluster.ctx, 2)
    async with cluster.node(0) as a, cluster.node(1) as b:
        assert (await buy(a, first, sale.item_id)).status_code == 201
        assert code(await buy(b, later, sale.item_id)) == "sold_out"  # B holds it as sold out
        topped = await a.post(
            f"/api/v1/admin/sale-items/{sale.item_id}/top-up", json={"units": 1}, headers=auth(operator)
        )
        assert topped.status_code == 200, topped.text
        key = uuid.uuid4().hex

        async def b_sells() -> bool:
            return (await buy(b, later, sale.item_id, key)).status_code == 201

        await first_time(b_sells, "a top-up through node A sold by node B")


# -- ended sessions -----------------------------------------------------------------------------------


async def test_a_logout_through_one_node_ends_the_session_on_the_other(cluster: Cluster) -> None:
    sale = await make_sale(cluster.ctx, quantity=5, limit=2)
    [(_, token)] = await make_buyers(cluster.ctx, 1)
    async with cluster.node(0) as a, cluster.node(1) as b:
        assert (await b.get("/api/v1/me", headers=auth(token))).status_code == 200  # B knows the user
        assert (await buy(b, token, sale.item_id)).status_code == 201
        assert (await a.post("/api/v1/auth/logout", headers=auth(token))).status_code == 204
        assert (await a.get("/api/v1/me", headers=auth(token))).status_code == 401  # A at once

        async def b_refuses() -> bool:
            return (await b.get("/api/v1/me", headers=auth(token))).status_code == 401

        await first_time(b_refuses, "a log-out through node A refused by node B")
        assert (await buy(b, token, sale.item_id)).status_code == 401  # the buy path too


async def test_a_password_change_through_one_node_ends_the_sessions_on_the_other(cluster: Cluster) -> None:
    [(user_id, _)] = await make_buyers(cluster.ctx, 1)
    old, new = "old-Pass-phrase-7361", "new-Pass-phrase-9052"
    async with cluster.ctx.transaction() as tx:
        await accounts_repo.set_password_hash(tx.conn, user_id, PasswordHasher().hash(old))
        email = (await accounts_repo.find_user(tx.conn, user_id)).email  # type: ignore[union-attr]
    async with cluster.node(0) as a, cluster.node(1) as b:
        login = await b.post("/api/v1/auth/login", json={"email": email, "password": old})
        assert login.status_code == 200, login.text
        token = login.json()["access_token"]
        assert (await b.get("/api/v1/me", headers=auth(token))).status_code == 200
        changed = await a.post(
            "/api/v1/me/password",
            json={"current_password": old, "new_password": new},
            headers=auth(token),
        )
        assert changed.status_code == 204, changed.text

        async def b_refuses() -> bool:
            return (await b.get("/api/v1/me", headers=auth(token))).status_code == 401

        await first_time(b_refuses, "a password change through node A refused by node B")
        again = await b.post("/api/v1/auth/login", json={"email": email, "password": new})
        assert again.status_code == 200
        assert (await b.get("/api/v1/me", headers=auth(again.json()["access_token"]))).status_code == 200


# -- through the load balancer ------------------------------------------------------------------------


def orders_created(metrics: str) -> float:
    found = re.search(r"^flashport_orders_created_total (\S+)$", metrics, re.MULTILINE)
    return float(found[1]) if found else 0.0


async def test_purchases_through_haproxy_spread_over_every_node_and_stay_consistent(cluster: Cluster) -> None:
    units = 12
    sale = await make_sale(cluster.ctx, quantity=units, limit=1)
    _, operator = await make_user(cluster.ctx, Role.OPERATOR)
    buyers = await make_buyers(cluster.ctx, units + 2)
    before = []
    for index in range(NODES):
        async with cluster.node(index) as node:
            before.append(orders_created((await node.get("/metrics")).text))
    served_by: list[str] = []
    async with cluster.balanced() as lb:  # one keep-alive connection: HAProxy balances each request
        for _, token in buyers[:units]:
            answer = await buy(lb, token, sale.item_id)
            assert answer.status_code == 201, answer.text
            served_by.append(answer.headers["x-flashport-node"])
        token = buyers[units][1]
        assert code(await buy(lb, token, sale.item_id)) == "sold_out"
    # Round robin: each node answered its share, and each counted just the orders it made.
    assert {name: served_by.count(name) for name in sorted(set(served_by))} == {
        f"node{i}": units // NODES for i in range(1, NODES + 1)
    }
    created = []
    for index in range(NODES):
        async with cluster.node(index) as node:
            created.append(orders_created((await node.get("/metrics")).text) - before[index])
    assert created == [units // NODES] * NODES
    # Whatever node a buyer reaches next, the item is sold out there.
    for index in range(NODES):
        async with cluster.node(index) as node:
            assert code(await buy(node, buyers[units + 1][1], sale.item_id)) == "sold_out"

    # A log-out and a pause through the load balancer reach every node.
    fresh = await make_sale(cluster.ctx, quantity=20, limit=1)
    async with cluster.balanced() as lb:
        assert (await lb.post("/api/v1/auth/logout", headers=auth(token))).status_code == 204
        paused = await lb.post(f"/api/v1/admin/sale-items/{fresh.item_id}/pause", headers=auth(operator))
        assert paused.status_code == 200
    for index in range(NODES):
        async with cluster.node(index) as node:

            async def ended(node: httpx.AsyncClient = node) -> bool:
                return (await node.get("/api/v1/me", headers=auth(token))).status_code == 401

            async def refused(node: httpx.AsyncClient = node) -> bool:
                return code(await buy(node, buyers[0][1], fresh.item_id)) == "sale_paused"

            await first_time(ended, f"a log-out through HAProxy refused by node {index + 1}")
            await first_time(refused, f"a pause through HAProxy refused by node {index + 1}")


# -- flashport serve-cluster --------------------------------------------------------------------------


async def test_serve_cluster_runs_nodes_behind_haproxy_and_stops_them_all(cluster: Cluster) -> None:
    _haproxy()
    settings = cluster.ctx.settings
    port = free_port()
    env = node_env(settings, f"http://127.0.0.1:{port}") | {"FLASHPORT_PORT": str(port)}
    del env["FLASHPORT_PUBLIC_URL"]  # serve-cluster makes the load balancer's address the public one
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "flashport", "serve-cluster", "--nodes", "2"),
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        assert process.stdout is not None
        line = b""
        while b"API nodes" not in line:  # the nodes print their own first lines to the same output
            line = await asyncio.wait_for(process.stdout.readline(), 120)
            assert line, "serve-cluster ended before it said it was ready"
        assert b"2 API nodes" in line and f"HAProxy on http://127.0.0.1:{port}".encode() in line, line
        seen: set[str] = set()
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", trust_env=False) as lb:

            async def both_nodes_answer() -> bool:
                seen.add((await lb.get("/livez")).headers["x-flashport-node"])
                return seen == {"node1", "node2"}

            await eventually(both_nodes_answer, what="both nodes answering through HAProxy")
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 60) == 0
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        await process.wait()


# -- a node that dies ---------------------------------------------------------------------------------


async def test_a_node_killed_behind_haproxy_costs_no_purchase_the_other_node_sells_them_all(
    cluster: Cluster, tmp_path: Path
) -> None:
    """Nodes of their own (one is killed): HAProxy moves the refused connections to the live node and
    its health check takes the dead one out."""
    settings = cluster.ctx.settings
    port = free_port()
    env = node_env(settings, f"http://127.0.0.1:{port}")
    nodes = list(await asyncio.gather(*(ServerProcess.start(env) for _ in range(2))))
    try:
        async with haproxy_in_front(nodes, port, tmp_path) as url:
            sale = await make_sale(cluster.ctx, quantity=20, limit=1)
            buyers = await make_buyers(cluster.ctx, 20)
            async with httpx.AsyncClient(base_url=url, trust_env=False, timeout=HTTP_TIMEOUT) as lb:
                assert (await buy(lb, buyers[0][1], sale.item_id)).status_code == 201
                await nodes[1].stop()  # SIGKILL: no goodbye, its connections just close
                served_by = []
                for _, token in buyers[1:]:
                    answer = await buy(lb, token, sale.item_id)
                    assert answer.status_code == 201, answer.text
                    served_by.append(answer.headers["x-flashport-node"])
            assert set(served_by) == {"node1"}
    finally:
        for node in nodes:
            await node.stop()
