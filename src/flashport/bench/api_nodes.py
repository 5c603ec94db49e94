"""``flashport bench-nodes``: the record sale (``flashport bench --no-room``) against 1, 2 and 4 API
processes, side by side: N ``serve`` nodes behind HAProxy (``serve-cluster``), and/or one ``serve
--workers N`` (uvicorn's processes sharing one socket, no balancer).

Each run has a scratch PostgreSQL database and Redis prefix of its own, dropped after it, and holds
``/tmp/flashport-bench.lock`` (the lock ``flock(1)`` takes) from the server's start to its stop, so no
other measurement on the machine runs at the same time. The configurations alternate (1, 2, 4, then again)
so a machine getting busier or quieter does not favour one of them. Each run reports orders a second,
latency, and the CPU one order cost the API processes, HAProxy, PostgreSQL and Redis (``bench/cpu.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import click
import httpx

from flashport.api_nodes import free_port
from flashport.keyring import generated_keys

FLASHPORT = [sys.executable, "-m", "flashport"]
READY_WITHIN = 120.0


@dataclass(frozen=True)
class Setup:
    pg_admin: str
    redis_url: str
    units: int
    connections: int
    lock: Path
    out: Path


@dataclass
class Row:
    mode: str
    processes: int
    orders_per_s: float = 0.0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    oversold: int = 0
    generator_busy: float = 0.0
    cpu_us: dict[str, float] = field(default_factory=dict)
    report: str = ""


@click.command("bench-nodes")
@click.option("--processes", "counts", default="1,2,4", show_default=True, help="API processes per run")
@click.option(
    "--mode",
    "modes",
    type=click.Choice(["haproxy", "workers"]),
    multiple=True,
    default=("haproxy", "workers"),
    show_default=True,
    help="haproxy: serve-cluster's nodes behind HAProxy; workers: serve --workers N",
)
@click.option("--rounds", default=1, show_default=True, type=click.IntRange(1, 10))
@click.option("--units", default=60_000, show_default=True, type=click.IntRange(1, 10_000_000))
@click.option("--connections", default=256, show_default=True, type=click.IntRange(1, 20_000))
@click.option("--pg-admin", default="postgresql://postgres@127.0.0.1:5432/postgres", show_default=True)
@click.option("--redis-url", default="redis://127.0.0.1:6379/0", show_default=True)
@click.option(
    "--lock", default="/tmp/flashport-bench.lock", show_default=True, type=click.Path(path_type=Path)
)
@click.option("--out", default="bench-results/nodes", show_default=True, type=click.Path(path_type=Path))
def bench_nodes(
    counts: str,
    modes: tuple[str, ...],
    rounds: int,
    units: int,
    connections: int,
    pg_admin: str,
    redis_url: str,
    lock: Path,
    out: Path,
) -> None:
    """The record sale against 1, 2 and 4 API processes (README: "Several API nodes")."""
    setup = Setup(pg_admin, redis_url, units, connections, lock, out)
    rows = []
    for _ in range(rounds):
        for count in (int(c) for c in counts.split(",")):
            for mode in modes:
                rows.append(one_run(setup, mode, count))
                show([rows[-1]], header=False)
    click.echo("\nside by side:")
    show(rows)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"nodes-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}.json").write_text(
        json.dumps([row.__dict__ for row in rows], indent=2)
    )


def show(rows: list[Row], *, header: bool = True) -> None:
    names = ["api", "haproxy", "postgres", "redis"]
    if header:
        click.echo(
            f"{'mode':<8} {'API':>3} {'orders/s':>9} {'p50 ms':>7} {'p99 ms':>7} "
            + " ".join(f"{n + ' µs':>11}" for n in names)
            + "  oversold  generator"
        )
    for r in rows:
        cpu = " ".join(f"{r.cpu_us[n]:>11.0f}" if n in r.cpu_us else f"{'':>11}" for n in names)
        click.echo(
            f"{r.mode:<8} {r.processes:>3} {r.orders_per_s:>9,.0f} {r.p50_ms:>7.1f} {r.p99_ms:>7.1f} "
            f"{cpu}  {r.oversold:>8}  {r.generator_busy:>8.0%}"
        )


def one_run(setup: Setup, mode: str, count: int) -> Row:
    tag = uuid.uuid4().hex[:10]
    database, prefix = f"flashport_bench_nodes_{tag}", f"benchnodes{tag}"
    click.echo(f"\n== {mode}, {count} API process(es): database {database}, Redis prefix {prefix}", err=True)
    with holding(setup.lock), tempfile.TemporaryDirectory(prefix="fp-bench-nodes-") as data:
        generated_keys(Path(data))  # the server and the bench sign and check tokens with the same keys
        asyncio.run(_admin(setup.pg_admin, f'CREATE DATABASE "{database}"'))
        try:
            port = free_port()
            env = bench_env(setup, database, prefix, port, Path(data))
            subprocess.run([*FLASHPORT, "db", "upgrade"], env=env, check=True, stdout=subprocess.DEVNULL)
            with serving(mode, count, port, env) as server:
                watched = asyncio.run(_watched(setup, server, mode))
                report = bench(setup, port, env, watched, setup.out / f"{mode}-{count}-{tag}")
        finally:
            asyncio.run(_admin(setup.pg_admin, f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
            asyncio.run(_drop_keys(setup.redis_url, prefix))
    return row_of(mode, count, report)


@contextlib.contextmanager
def holding(lock: Path) -> Iterator[None]:
    """The machine's benchmark lock (``flock /tmp/flashport-bench.lock <cmd>`` takes the same one)."""
    with lock.open("a") as handle:
        click.echo(f"waiting for {lock} ...", err=True)
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def bench_env(setup: Setup, database: str, prefix: str, port: int, data: Path) -> dict[str, str]:
    """The record benchmark's settings (README, "The record benchmark")."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLASHPORT_", "PROMETHEUS_"))}
    return env | {
        "FLASHPORT_DATA_DIR": str(data),
        "FLASHPORT_DATABASE_URL": setup.pg_admin.rsplit("/", 1)[0] + "/" + database,
        "FLASHPORT_REDIS_URL": setup.redis_url,
        "FLASHPORT_REDIS_PREFIX": prefix,
        "FLASHPORT_RATE_BUY_ADDRESS": "10000000/10",
        "FLASHPORT_FORWARDED_ALLOW_IPS": "127.0.0.1",
        "FLASHPORT_GROUP_COMMIT_IN_FLIGHT": "2",
        "FLASHPORT_GROUP_COMMIT_LINGER_MS": "2",
        "FLASHPORT_PORT": str(port),
        "FLASHPORT_LOG_LEVEL": "warning",
    }


@contextlib.contextmanager
def serving(mode: str, count: int, port: int, env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    """The API on ``port``: serve-cluster (HAProxy) or serve --workers; stopped (SIGTERM) on exit."""
    command = ["serve-cluster", "--nodes"] if mode == "haproxy" else ["serve", "--workers"]
    server = subprocess.Popen([*FLASHPORT, *command, str(count)], env=env, start_new_session=True)
    try:
        _until_ready(server, port, count if mode == "haproxy" else 0)
        yield server
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


def _until_ready(server: subprocess.Popen[bytes], port: int, nodes: int) -> None:
    """/readyz answers 200 (through HAProxy: from each of ``nodes`` nodes)."""
    deadline, seen = time.monotonic() + READY_WITHIN, set()
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", trust_env=False, timeout=10) as client:
        while time.monotonic() < deadline:
            if server.poll() is not None:
                raise click.ClickException(f"the server exited with {server.returncode} during start-up")
            with contextlib.suppress(httpx.TransportError):
                answer = client.get("/readyz")
                if answer.status_code == 200:
                    seen.add(answer.headers.get("x-flashport-node", ""))
                    if len(seen) >= nodes:
                        return
            time.sleep(0.1)
    raise click.ClickException(f"the server was not ready within {READY_WITHIN:.0f} s")


async def _watched(setup: Setup, server: subprocess.Popen[bytes], mode: str) -> list[str]:
    """``--cpu-of`` arguments: the API processes, HAProxy, the PostgreSQL postmaster, Redis."""
    import asyncpg
    import redis.asyncio as aioredis

    specs = _api_specs(server, mode)
    conn = await asyncpg.connect(setup.pg_admin.replace("postgresql://", "postgres://"))
    try:  # the postmaster is the parent of this connection's backend (read while it lives)
        specs.append(f"postgres={_parent(await conn.fetchval('SELECT pg_backend_pid()'))}")
    finally:
        await conn.close()
    client = aioredis.Redis.from_url(setup.redis_url)
    try:
        specs.append(f"redis={(await client.info('server'))['process_id']}")
    finally:
        await client.aclose()
    return specs


def _api_specs(server: subprocess.Popen[bytes], mode: str) -> list[str]:
    if mode == "workers":  # uvicorn's processes are the server's children: its tree
        return [f"api={server.pid}"]
    # serve-cluster's children: the nodes, and HAProxy counted apart
    children = Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split()
    return [f"{'haproxy' if _name(int(c)) == 'haproxy' else 'api'}={c}" for c in children]


def _name(pid: int) -> str:
    return Path(f"/proc/{pid}/comm").read_text().strip()


def _parent(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def bench(setup: Setup, port: int, env: dict[str, str], watched: list[str], out: Path) -> Path:
    """``flashport bench --no-room`` against the server; the path of its JSON report."""
    command = [*FLASHPORT, "bench", "--url", f"http://127.0.0.1:{port}", "--units", str(setup.units)]
    command += ["--connections", str(setup.connections), "--generator-check", "0", "--no-room"]
    command += ["--out", str(out), *(f"--cpu-of={spec}" for spec in watched)]
    subprocess.run(command, env=env, check=True)
    return max(out.glob("bench-*.json"))


def row_of(mode: str, count: int, report: Path) -> Row:
    document = json.loads(report.read_text())
    summary = document["summary"]
    return Row(
        mode=mode,
        processes=count,
        orders_per_s=summary["orders_per_s"],
        p50_ms=summary["latency"]["p50_ms"],
        p99_ms=summary["latency"]["p99_ms"],
        oversold=document["database"]["oversold"],
        generator_busy=summary["generator_busy"],
        cpu_us=document.get("cpu_us_per_order") or {},
        report=str(report),
    )


async def _admin(url: str, sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(url.replace("postgresql://", "postgres://"))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def _drop_keys(url: str, prefix: str) -> None:
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(url)
    try:
        batch = []
        async for key in client.scan_iter(match=f"{prefix}:*", count=5000):
            batch.append(key)
            if len(batch) >= 5000:
                await client.unlink(*batch)
                batch.clear()
        if batch:
            await client.unlink(*batch)
    finally:
        await client.aclose()
