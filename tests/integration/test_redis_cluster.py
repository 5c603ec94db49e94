"""What only a Redis Cluster can show: news published on one node reaching a listener on another, and a
master failing over mid-sale. The contract and race tests of the buy path run on the cluster too (the
modules marked ``redis_cluster``)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest
import redis
import sqlalchemy as sa

from flashport.adapters.db.engine import create_engine
from flashport.adapters.db.schema import orders
from flashport.adapters.stock.redis import RedisStockEngine
from flashport.adapters.stock.restock import RestockListener
from flashport.bootstrap import build_context, close_context
from flashport.domain.errors import Conflict, ServiceUnavailable
from flashport.services.context import Context
from flashport.services.orders.lifecycle import cancel_by_buyer
from flashport.services.sales import buying
from flashport.services.sales.reconcile import reconcile
from flashport.settings import Settings
from tests.conftest import _empty_all_tables
from tests.redis_cluster import LocalCluster, local_cluster
from tests.sale_builder import make_buyers, make_sale
from tests.waiting import eventually


async def test_restock_news_published_on_any_node_reaches_a_listener_on_another(
    redis_cluster: LocalCluster,
) -> None:
    """The restock listener subscribes through the cluster client (on the node of its channel's slot);
    a classic PUBLISH on any node is delivered cluster-wide, so every node's publisher reaches it."""
    from flashport.adapters import redis_client

    client = redis_client.connect(redis_cluster.url)
    heard: list[int] = []
    channel = f"fpt{uuid.uuid4().hex[:8]}:restock"
    listener = RestockListener(client, channel, heard.append)
    listener.start()
    try:
        await asyncio.wait_for(listener.ready.wait(), 30)
        masters = [n for n in redis_cluster.alive() if n.is_master()]
        assert len(masters) == 3
        for item_id, node in enumerate(masters, start=1):
            with node.client() as plain:
                plain.publish(channel, str(item_id))

        async def all_heard() -> bool:
            return len(heard) == 3

        await eventually(all_heard, what="the restocks published on each master")
        assert sorted(heard) == [1, 2, 3]
    finally:
        await listener.stop()
        await client.aclose()


async def test_a_session_ended_in_one_process_is_closed_in_another_through_the_cluster(
    redis_cluster: LocalCluster, ctx: Context
) -> None:
    """Session revocations travel the same way (pub/sub through the cluster client); the database poll
    is set far off, so only the message can close the session in time."""
    from flashport.adapters import redis_client
    from flashport.adapters.session_revocations import RevocationList

    prefix = f"fpt{uuid.uuid4().hex[:8]}"
    lists, clients = [], []
    for _ in range(2):
        client = redis_client.connect(redis_cluster.url)
        revocations = RevocationList(ctx.engine, poll_seconds=60, keep=timedelta(days=7))
        revocations.use_redis(client, prefix)
        revocations.start(ctx.clock)
        lists.append(revocations)
        clients.append(client)
    here, there = lists
    try:
        assert there.is_open(42, 1)

        async def closed_there() -> bool:
            await here.publish(42, 2)  # again until the other process has subscribed
            return not there.is_open(42, 1)

        await eventually(closed_there, what="the other process closing the session")
        assert there.is_open(42, 2)
    finally:
        for revocations, client in zip(lists, clients, strict=True):
            await revocations.stop()
            await client.aclose()


@dataclass
class Sale:
    """Every answer of one sale: the orders answered 201, the purchases refused, the 503s."""

    created: dict[str, int] = field(default_factory=dict)  # order_no -> buyer id
    refused: int = 0  # sold out, or the buyer's limit reached
    unavailable: int = 0


async def _buy_all(ctx: Context, item_id: int, buyers: list[tuple[int, str]], tag: str, sale: Sale) -> None:
    async def one(buyer_id: int) -> None:
        try:
            purchase = await buying.buy(ctx, buyer_id, item_id, 1, f"{tag}-{buyer_id}")
        except Conflict:
            sale.refused += 1
        except ServiceUnavailable:
            sale.unavailable += 1
        else:
            sale.created[purchase.order["order_no"]] = buyer_id

    await asyncio.gather(*(one(b) for b, _ in buyers))


@pytest.fixture
async def own_cluster(tmp_path: Path) -> AsyncIterator[LocalCluster]:
    """A cluster of this test alone: it loses a master."""
    with local_cluster(tmp_path / "cluster") as cluster:
        yield cluster


@pytest.fixture
async def failover_ctx(database_settings: Settings, own_cluster: LocalCluster) -> AsyncIterator[Context]:
    settings = database_settings.model_copy(
        update={
            "redis_url": own_cluster.url,
            "redis_prefix": f"fpt{uuid.uuid4().hex[:10]}",
            "redis_replica_acks": 1,
        }
    )
    engine = create_engine(settings)
    await _empty_all_tables(engine)
    await engine.dispose()
    ctx = await build_context(settings)
    await ctx.stock.following()
    try:
        yield ctx
    finally:
        await close_context(ctx)


async def test_a_master_failing_over_mid_sale_loses_no_order_sells_no_unit_twice_and_reconcile_repairs(
    failover_ctx: Context, own_cluster: LocalCluster
) -> None:
    """The master of the item's slot dies mid-sale after its replica fell behind. Reservations are
    confirmed by the replica before their orders are written (``redis_replica_acks``), so none of a
    saved order is lost: while the replica is away purchases are answered 503 and reserve nothing.
    What the failover does lose is the units two cancellations gave back on the dead master alone:
    Redis counts them as taken, the sale sells out two units early, and reconcile names the
    difference and gives them back, after which exactly the quantity is sold."""
    ctx = failover_ctx
    stock = ctx.stock
    assert isinstance(stock, RedisStockEngine)
    quantity = 40
    item = await make_sale(ctx, quantity=quantity, limit=1)
    buyers = await make_buyers(ctx, 70)
    sale = Sale()
    await _buy_all(ctx, item.item_id, buyers[:20], "before", sale)
    assert (len(sale.created), sale.unavailable) == (20, 0)

    master = own_cluster.node_of_slot(stock.key(item.item_id, "meta"))
    replica = own_cluster.replica_of(master)
    replica.process.send_signal(signal.SIGSTOP)  # the replica falls behind: it reads nothing more
    try:
        with master.client() as plain:
            plain.execute_command("CLIENT", "KILL", "TYPE", "replica")
        cancelled = list(sale.created.items())[:2]
        for order_no, buyer_id in cancelled:
            await cancel_by_buyer(ctx, buyer_id, order_no)  # units back on the master alone
        behind = Sale()
        await _buy_all(ctx, item.item_id, buyers[20:25], "behind", behind)
        assert (behind.created, behind.unavailable) == ({}, 5)  # no replica confirmed: nothing reserved
        assert stock.unreplicated_batches >= 1
        master.process.send_signal(signal.SIGKILL)
    finally:
        replica.process.send_signal(signal.SIGCONT)
    await asyncio.to_thread(own_cluster.wait_promoted, replica)
    # The new master has no replica to confirm reservations: buying fails closed until the dead node
    # comes back, as a replica of the new master.
    own_cluster.restart(master)
    await eventually(lambda: _in_thread(own_cluster.has_replica, replica), within=60, what="a replica again")

    await eventually(lambda: _sells(ctx, item.item_id, buyers[25:35], sale), within=60, what="buying again")
    await _buy_all(ctx, item.item_id, buyers[35:60], "after", sale)
    assert sale.refused > 0
    live = await _live_units(ctx, item.item_id)
    assert live == quantity - 2  # the units of the two lost releases are held by nobody
    [report] = await reconcile(ctx, [item.item_id])
    assert (report.truth_taken, report.engine_taken, report.difference) == (quantity - 2, quantity, 2)
    assert report.buyer_differences == {buyer_id: 1 for _, buyer_id in cancelled}
    # What an operator runs after a failover: `flashport reconcile --repair` names and fixes it.
    out = await _reconcile_command(ctx, item.item_id)
    assert out.split("\n")[1].split() == [
        str(item.item_id),
        str(quantity - 2),
        str(quantity),
        "+2",
        "2",
        "-2",
        "0",
    ]
    assert (await reconcile(ctx, [item.item_id]))[0].agrees

    last = Sale()
    await _buy_all(ctx, item.item_id, buyers[60:], "last", last)
    assert len(last.created) == 2
    sale.created.update(last.created)
    await _every_answer_has_its_order_and_no_unit_is_sold_twice(ctx, item.item_id, sale, quantity)


async def _reconcile_command(ctx: Context, item_id: int) -> str:
    s = ctx.settings
    env = {
        **os.environ,
        "FLASHPORT_ENV": "test",
        "FLASHPORT_DATA_DIR": str(s.data_dir),
        "FLASHPORT_REDIS_URL": str(s.redis_url),
        "FLASHPORT_REDIS_PREFIX": s.redis_prefix,
        "FLASHPORT_LOG_LEVEL": "warning",
    }
    env.pop("FLASHPORT_DATABASE_URL", None)
    if s.database_url:
        env["FLASHPORT_DATABASE_URL"] = s.database_url
    argv = [
        sys.executable,
        "-m",
        "flashport",
        "reconcile",
        "--item",
        str(item_id),
        "--repair",
        "--settle",
        "0.2",
    ]
    done = await asyncio.to_thread(subprocess.run, argv, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


async def _in_thread(check: Callable[..., bool], *args: object) -> bool:
    try:
        return await asyncio.to_thread(check, *args)
    except redis.RedisError:
        return False


async def _sells(ctx: Context, item_id: int, buyers: list[tuple[int, str]], sale: Sale) -> bool:
    """One purchase at a time until one is answered 201 (the client finds the new master)."""
    for buyer_id, token in buyers:
        before = len(sale.created)
        await _buy_all(ctx, item_id, [(buyer_id, token)], "again", sale)
        if len(sale.created) > before:
            return True
    return False


async def _live_units(ctx: Context, item_id: int) -> int:
    async with ctx.read() as conn:
        return int(
            await conn.scalar(
                sa.select(sa.func.coalesce(sa.func.sum(orders.c.quantity), 0)).where(
                    orders.c.sale_item_id == item_id,
                    orders.c.status.in_(["pending_payment", "paid"]),
                )
            )
        )


async def _every_answer_has_its_order_and_no_unit_is_sold_twice(
    ctx: Context, item_id: int, sale: Sale, quantity: int
) -> None:
    async with ctx.read() as conn:
        rows = (
            await conn.execute(
                sa.select(orders.c.order_no, orders.c.buyer_id, orders.c.status).where(
                    orders.c.sale_item_id == item_id
                )
            )
        ).all()
    saved = {r.order_no: r.buyer_id for r in rows}
    assert saved == sale.created  # every 201 is in the database, and nothing else is
    live = [r for r in rows if r.status in ("pending_payment", "paid")]
    assert len(live) == quantity  # sold out exactly: no unit twice, none left over
    assert len({r.buyer_id for r in live}) == len(live)  # the limit of one held across the failover
