"""Faults during a steady purchase and payment load, on PostgreSQL and Redis (and one on SQLite).

Each case runs ``flashport serve --workers 2`` and ``flashport worker`` as deployed, reaching PostgreSQL
and Redis through a proxy that can stall, buys with careful clients (one Idempotency-Key per purchase,
retried after ``Retry-After``) and sends signed payment notifications retried until acknowledged, as the
provider does. The fault strikes once the load runs steadily; afterwards every case checks:

- buying failed closed: no answer but 201, 200 (a retry given its first order), 409, 422 and
  503-with-``Retry-After`` (or none at all while a process was gone), and it came back by itself;
- no unit sold twice: one order per buyer at most, units taken never above the allotment, and
  ``flashport reconcile`` finds the stock engine and the database agreeing;
- no 201 without its order;
- no payment notification lost: every one acknowledged ``success`` paid its order exactly once.

The seconds of errors each fault caused and the seconds to recover are printed at the end of the run
(``make test-chaos``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from flashport.adapters.db import migrate, partners_repo
from flashport.adapters.db.partners_schema import partner_events
from flashport.adapters.db.schema import orders, outbox, payments, products, sale_items, skus
from flashport.adapters.payments import alipay_protocol as proto
from flashport.bench import notify
from flashport.bench.setup import mint_tokens, new_run_id, prepare_sale
from flashport.bootstrap import build_context, close_context
from flashport.domain.partners import PartnerKind
from flashport.sandbox_pay.keys import ensure_keys
from flashport.services.context import Context, utc_now
from flashport.services.sales import inventory
from flashport.settings import Settings
from tests.chaos.harness import (
    Figures,
    Load,
    Notification,
    PrivatePostgres,
    PrivateRedis,
    Process,
    StallProxy,
    figures,
    timed,
    until_live,
)
from tests.servers import free_port
from tests.waiting import eventually

pytestmark = pytest.mark.chaos

BUYERS = 5_000
UNITS = 100_000
NOTIFICATIONS = 600
STEADY_ORDERS = 40  # orders answered before the fault strikes: the load is running
ORDERS_AFTER = 40  # orders answered after the fault ended: buying is back
RECOVERY_WITHIN = 180.0  # a safety net, not a timing check
STALL_SECONDS = 5.0
DISK_MB = 64


@dataclass
class World:
    """The platform the cases share: its database and Redis prefix, the proxies in front of them, the
    processes. Each case brings a sale of its own (:class:`Sale`)."""

    settings: Settings  # as the processes see it: through the proxies
    direct: Settings  # the same, straight to the servers (set-up and checks)
    env: dict[str, str]
    pg: PrivatePostgres | None
    redis: PrivateRedis | None
    pg_proxy: StallProxy | None
    redis_proxy: StallProxy | None
    api: Process
    worker: Process  # every stage but the partner relay's
    relay: Process  # the partner relay alone (``flashport worker --only relay``)
    url: str


@dataclass
class Sale:
    item_id: int
    tokens: list[str]
    notifications: list[Notification]
    partner_id: int  # the supplier's partner account: the relay feeds it every order's events


def _env(settings: Settings, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLASHPORT_")}
    env.update(
        FLASHPORT_ENV="test",
        FLASHPORT_DATA_DIR=str(settings.data_dir),
        FLASHPORT_RATE_LIMITS="false",
        FLASHPORT_PAYMENT_WINDOW_SECONDS=str(settings.payment_window_seconds),
        FLASHPORT_WORKER_POLL_SECONDS="0.2",
        FLASHPORT_LOG_LEVEL="warning",
        FLASHPORT_PORT=str(port),
        PYTHONFAULTHANDLER="1",  # a process killed by a fatal signal (SIGBUS, SIGSEGV) says so in its log
    )
    if settings.database_url:
        env["FLASHPORT_DATABASE_URL"] = settings.database_url
    if settings.redis_url:
        env["FLASHPORT_REDIS_URL"] = settings.redis_url
        env["FLASHPORT_REDIS_PREFIX"] = settings.redis_prefix
    return env


async def new_sale(direct: Settings) -> Sale:
    """A sale of its own (one item, one unit per buyer), the buyers' tokens, and signed notifications
    for checked-out orders of another run, all written straight to the database."""
    ctx = await build_context(direct, listen_for_restock=False)
    try:
        sale = await prepare_sale(ctx, units=UNITS, buyers=BUYERS, run_id=new_run_id())
        pending = await notify.prepare_payments(ctx, NOTIFICATIONS, new_run_id())
        await inventory.items_changed(ctx, [pending.item_id])  # its units taken, as the engine must know
        partner_id = await _supplier_partner(ctx, sale.item_id)
    finally:
        await close_context(ctx)
    tokens = await asyncio.to_thread(mint_tokens, direct, sale.buyer_ids, 1)
    key = proto.load_private_key(ensure_keys(direct.data_dir).provider_private)
    now = utc_now()
    notes = [
        Notification(
            no,
            notify.signed_form(
                notify.notification_fields(direct.payment_app_id, no, notify.SALE_PRICE_FEN, now), key
            ),
        )
        for no in pending.out_trade_nos
    ]
    return Sale(sale.item_id, tokens, notes, partner_id)


async def _supplier_partner(ctx: Context, item_id: int) -> int:
    """A partner account for the supplier of the item, so the relay has every order's events to feed."""
    async with ctx.transaction() as tx:
        supplier_id = await tx.conn.scalar(
            sa.select(products.c.supplier_id)
            .join(skus, skus.c.product_id == products.c.id)
            .join(sale_items, sale_items.c.sku_id == skus.c.id)
            .where(sale_items.c.id == item_id)
        )
        partner = await partners_repo.insert_partner(
            tx.conn,
            name=f"chaos supplier {item_id}",
            kind=PartnerKind.SUPPLIER,
            supplier_id=supplier_id,
            logistics_code=None,
            pay_code=None,
            now=tx.now,
        )
    return partner.id


@contextlib.asynccontextmanager
async def platform(
    direct: Settings, settings: Settings, folder: Path, *, api_processes: int = 2, **parts: Any
) -> AsyncIterator[World]:
    """Migrate, then run ``flashport serve --workers N`` and ``flashport worker`` as deployed."""
    await asyncio.to_thread(migrate.upgrade, direct)
    port = free_port()
    env = _env(settings, port)
    serve = ["serve", "--workers", str(api_processes), "--port", str(port)]
    api = Process(serve, env, folder / "api.log")
    worker = Process(["worker", "--skip", "relay"], env, folder / "worker.log")
    relay = Process(["worker", "--only", "relay"], env, folder / "relay.log")
    for process in (api, worker, relay):
        process.start()
    parts = {"pg": None, "redis": None, "pg_proxy": None, "redis_proxy": None} | parts
    world = World(
        settings, direct, env, api=api, worker=worker, relay=relay, url=f"http://127.0.0.1:{port}", **parts
    )
    try:
        await until_live(world.url)
        yield world
    finally:
        for process in (api, worker, relay):
            process.stop()


@pytest.fixture(scope="module")
async def world(
    private_postgres: PrivatePostgres, private_redis: PrivateRedis, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[World]:
    """PostgreSQL and Redis, each behind a proxy that can stall; orders expire three seconds after
    they are made, so the worker returns units all through a case."""
    name = f"fp_chaos_{uuid.uuid4().hex[:10]}"
    await asyncio.to_thread(private_postgres.create_database, name)
    pg_proxy, redis_proxy = StallProxy(private_postgres.port), StallProxy(private_redis.port)
    await pg_proxy.start()
    await redis_proxy.start()
    folder = tmp_path_factory.mktemp("chaos")
    direct = Settings(
        env="test",
        data_dir=folder / "data",
        database_url=private_postgres.url(name),
        redis_url=private_redis.url,
        redis_prefix=f"chaos{uuid.uuid4().hex[:8]}",
        rate_limits=False,
        payment_window_seconds=3,
    )
    settings = direct.model_copy(
        update={
            "database_url": private_postgres.url(name, port=pg_proxy.port),
            "redis_url": f"redis://127.0.0.1:{redis_proxy.port}/0",
        }
    )
    try:
        async with platform(
            direct,
            settings,
            folder,
            pg=private_postgres,
            redis=private_redis,
            pg_proxy=pg_proxy,
            redis_proxy=redis_proxy,
        ) as running:
            yield running
    finally:
        await pg_proxy.close()
        await redis_proxy.close()


# --- the faults --------------------------------------------------------------------------------------------


async def redis_restarted(w: World) -> None:
    assert w.redis is not None
    await asyncio.to_thread(w.redis.restart)


async def redis_lost(w: World) -> None:
    assert w.redis is not None
    await asyncio.to_thread(w.redis.lose_everything)


async def postgres_restarted(w: World) -> None:
    assert w.pg is not None
    await asyncio.to_thread(w.pg.restart)


async def postgres_stalled(w: World) -> None:
    assert w.pg_proxy is not None
    w.pg_proxy.stall()
    await _stalled_for(w, STALL_SECONDS)  # the fault's own length
    w.pg_proxy.resume()


async def redis_stalled(w: World) -> None:
    assert w.redis_proxy is not None
    w.redis_proxy.stall()
    await _stalled_for(w, STALL_SECONDS)
    w.redis_proxy.resume()


async def _stalled_for(w: World, seconds: float) -> None:
    """Wait out a stall. With ``CHAOS_DUMP_AT`` set (seconds into the stall), every API process then
    writes its asyncio tasks and what each awaits to the API log (``task_dump``), and with
    ``CHAOS_PY_SPY`` (the py-spy binary) its threads' stacks are printed too: where requests wait."""
    dump_at = float(os.environ.get("CHAOS_DUMP_AT", "nan"))
    if not 0 <= dump_at < seconds:
        await asyncio.sleep(seconds)
        return
    await asyncio.sleep(dump_at)
    for pid in w.api.children():
        os.kill(pid, signal.SIGUSR1)
        if py_spy := os.environ.get("CHAOS_PY_SPY"):
            spied = await asyncio.to_thread(
                subprocess.run, [py_spy, "dump", "--pid", str(pid)], capture_output=True, text=True
            )
            print(f"py-spy dump of API process {pid}:\n{spied.stdout}{spied.stderr}")
    await asyncio.sleep(seconds - dump_at)


async def api_killed(w: World) -> None:
    """SIGKILL to one of the API's processes; ``serve``'s supervisor starts another."""
    children = w.api.children()
    assert children, "serve --workers 2 runs its API processes as children"
    os.kill(children[0], 9)
    await eventually(
        lambda: _async(len(w.api.children()) == 2 and children[0] not in w.api.children()),
        within=RECOVERY_WITHIN,
        what="serve replacing its killed process",
    )


async def worker_killed(w: World) -> None:
    """SIGKILL to the worker (mid-sweep: orders expire all along), then a new one, as systemd would."""
    w.worker.kill9()
    w.worker.start()


async def relay_killed(w: World) -> None:
    """SIGKILL to the partner relay (mid-pass: every order makes events), then a new one."""
    w.relay.kill9()
    w.relay.start()


async def _async(value: bool) -> bool:
    return value


FAULTS: dict[str, Callable[[World], Awaitable[None]]] = {
    "redis restarted": redis_restarted,
    "redis lost (flushed)": redis_lost,
    "postgres restarted": postgres_restarted,
    "postgres stalled 5 s": postgres_stalled,
    "redis stalled 5 s": redis_stalled,
    "api process kill -9": api_killed,
    "worker kill -9": worker_killed,
    "relay kill -9": relay_killed,
}


@pytest.mark.parametrize("case", list(FAULTS))
async def test_a_fault_during_the_rush_loses_nothing(
    case: str, world: World, record_figures: list[Figures]
) -> None:
    await _run_case(case, FAULTS[case], world, record_figures)


@pytest.fixture(scope="module")
async def sqlite_world(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    """The embedded default (SQLite, the SQL stock engine, one API process) with its data directory on
    a small disk of its own (a tmpfs), which the case fills up."""
    folder = tmp_path_factory.mktemp("chaos-sqlite")
    disk = folder / "disk"
    disk.mkdir()
    mount = ["mount", "-t", "tmpfs", "-o", f"size={DISK_MB}m", "tmpfs", str(disk)]
    mounted = await asyncio.to_thread(subprocess.run, mount, capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.fail(f"the disk-full case mounts a {DISK_MB} MB tmpfs and needs root: {mounted.stderr}")
    direct = Settings(env="test", data_dir=disk / "data", rate_limits=False, payment_window_seconds=3)
    try:
        async with platform(direct, direct, folder, api_processes=1) as running:
            yield running
    finally:
        await asyncio.to_thread(subprocess.run, ["umount", "-l", str(disk)], capture_output=True)


async def disk_full(w: World) -> None:
    """Fill the data disk to the last byte, keep it full for a while, then free it."""
    filler = w.direct.data_dir.parent / "filler"
    await asyncio.to_thread(_fill, filler)
    await asyncio.sleep(STALL_SECONDS)  # the fault's own length
    filler.unlink()


def _fill(path: Path) -> None:
    block = b"\0" * (1 << 20)
    with path.open("wb") as out:
        try:
            while True:
                out.write(block)
                out.flush()
        except OSError:
            pass
        with contextlib.suppress(OSError):  # the last bytes, block by smaller block
            for size in (1 << 16, 1 << 12, 1 << 9):
                while True:
                    out.write(block[:size])
                    out.flush()


async def test_the_sqlite_disk_full_during_the_rush_loses_nothing(
    sqlite_world: World, record_figures: list[Figures]
) -> None:
    await _run_case("sqlite data disk full", disk_full, sqlite_world, record_figures)


async def _run_case(
    case: str, fault: Callable[[World], Awaitable[None]], world: World, record_figures: list[Figures]
) -> None:
    sale = await new_sale(world.direct)
    async with Load(world.url, sale.item_id, sale.tokens, sale.notifications) as load:
        await _orders_answered(load, STEADY_ORDERS, "the steady load")
        with timed() as span:
            await fault(world)
        try:
            await _orders_answered(load, ORDERS_AFTER, "buying back after the fault", since=span[1])
        except AssertionError:
            print(
                f"{case}: API {world.api.state()}, worker {world.worker.state()}, relay {world.relay.state()}"
            )
            print(world.api.tail(), world.worker.tail(), world.relay.tail(), sep="\n---\n")
            raise
        await load.stop()
        await load.finish(within=RECOVERY_WITHIN)
    result = figures(case, load, span[0], span[1])
    record_figures.append(result)
    if os.environ.get("CHAOS_DUMP_AT"):
        print(f"API log of {case}:\n{world.api.tail(200_000)}")
    try:
        await _check_everything(world, sale, load)
    except AssertionError:
        print(world.api.tail(), world.worker.tail(), world.relay.tail(), sep="\n---\n")
        raise


async def _orders_answered(load: Load, count: int, what: str, since: float = 0.0) -> None:
    async def enough() -> bool:
        return sum(1 for a in load.answers() if a.status == 201 and a.at >= since) >= count

    try:
        await eventually(enough, within=RECOVERY_WITHIN, every=0.05, what=what)
    except AssertionError as failure:
        seen: dict[tuple[int, str], int] = {}
        for a in load.answers():
            if a.at >= since:
                seen[(a.status, a.code)] = seen.get((a.status, a.code), 0) + 1
        raise AssertionError(f"{failure}; answers since: {seen}") from None


async def _check_everything(w: World, sale: Sale, load: Load) -> None:
    answers = load.answers()
    unexpected = [a for a in answers if a.status not in (0, 200, 201, 409, 422, 503)]
    assert not unexpected, f"buying answered {sorted({(a.status, a.code) for a in unexpected})}"
    assert all(a.retry_after for a in answers if a.status == 503), "a 503 without Retry-After"
    bad_notes = [a for a in load.notification_answers() if a.status >= 500 and a.status != 503]
    assert not bad_notes, f"the notify endpoint answered {sorted({(a.status, a.code) for a in bad_notes})}"

    created = {p.order_id for p in load.started_purchases() if p.order_id}
    ctx = await build_context(w.direct, listen_for_restock=False)
    try:
        async with ctx.transaction() as tx:
            found = set(
                (
                    await tx.conn.scalars(sa.select(orders.c.id).where(orders.c.sale_item_id == sale.item_id))
                ).all()
            )
            per_buyer = (
                await tx.conn.execute(
                    sa.select(orders.c.buyer_id, sa.func.count())
                    .where(orders.c.sale_item_id == sale.item_id)
                    .group_by(orders.c.buyer_id)
                    .having(sa.func.count() > 1)
                )
            ).all()
            item = (await tx.conn.execute(sa.select(sale_items).where(sale_items.c.id == sale.item_id))).one()
            paid_nos = [n.out_trade_no for n in load.started_notifications()]
            succeeded = await tx.conn.scalar(
                sa.select(sa.func.count())
                .select_from(payments)
                .where(payments.c.out_trade_no.in_(paid_nos), payments.c.status == "succeeded")
            )
            paid_events = (
                await tx.conn.execute(
                    sa.select(outbox.c.subject, sa.func.count())
                    .where(outbox.c.type == "order.paid")
                    .group_by(outbox.c.subject)
                    .having(sa.func.count() > 1)
                )
            ).all()
    finally:
        await close_context(ctx)
    assert created <= {str(o) for o in found}, "a 201 answered for an order that is not in the database"
    assert not per_buyer, f"buyers with more than one order: {per_buyer[:5]}"
    assert item.reserved + item.sold <= item.quantity
    assert all(n.acknowledged for n in load.started_notifications())
    assert succeeded == len(paid_nos), f"{len(paid_nos)} notifications acknowledged, {succeeded} paid"
    assert not paid_events, f"orders paid twice: {paid_events[:5]}"
    await _relayed(w, sale)
    await _reconciled(w)


async def _relayed(w: World, sale: Sale) -> None:
    """Every event of the sale's orders reaches the supplier's feed once, numbered 1, 2, ... per order
    with no gap, once the relay has caught up."""
    ctx = await build_context(w.direct, listen_for_restock=False)
    state: dict[str, Any] = {}

    async def caught_up() -> bool:
        async with ctx.transaction() as tx:
            subjects = sa.select(sa.literal("order:") + orders.c.order_no).where(
                orders.c.sale_item_id == sale.item_id
            )
            want = set(
                (
                    await tx.conn.scalars(
                        sa.select(outbox.c.id).where(
                            outbox.c.subject.in_(subjects), outbox.c.type.like("order.%")
                        )
                    )
                ).all()
            )
            fed = (
                await tx.conn.execute(
                    sa.select(
                        partner_events.c.outbox_id, partner_events.c.subject, partner_events.c.subject_seq
                    ).where(
                        partner_events.c.partner_id == sale.partner_id, partner_events.c.type.like("order.%")
                    )
                )
            ).all()
        state.update(want=len(want), fed=len(fed), missing=len(want - {f.outbox_id for f in fed}))
        state["fed_rows"] = fed
        return bool(want) and want == {f.outbox_id for f in fed}

    try:
        await eventually(caught_up, within=RECOVERY_WITHIN, every=0.5, what="the relay feeding every event")
    except AssertionError:
        print({k: v for k, v in state.items() if k != "fed_rows"})
        raise
    finally:
        await close_context(ctx)
    per_subject: dict[str, list[int]] = {}
    for row in state["fed_rows"]:
        per_subject.setdefault(row.subject, []).append(row.subject_seq)
    gaps = {s: q for s, q in per_subject.items() if sorted(q) != list(range(1, len(q) + 1))}
    assert not gaps, f"a feed's numbers per order have gaps or repeats: {list(gaps.items())[:3]}"


async def _reconciled(w: World) -> None:
    """``flashport reconcile`` agrees once the last orders have expired (the worker sweeps them)."""
    env = _env(w.direct, 1)

    async def clean() -> bool:
        done = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "flashport", "reconcile", "--settle", "0.5"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        clean.last = done.stdout + done.stderr  # type: ignore[attr-defined]
        return done.returncode == 0

    try:
        await eventually(clean, within=RECOVERY_WITHIN, every=1.0, what="reconcile finding no difference")
    except AssertionError:
        print(getattr(clean, "last", ""))
        raise
