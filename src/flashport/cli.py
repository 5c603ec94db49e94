"""The ``flashport`` command: serve, worker, db upgrade, demo, reconcile, users, bench."""

from __future__ import annotations

import asyncio
import contextlib
import faulthandler
import importlib
import logging
import os
import sys

import click
from pydantic import ValidationError

from flashport.settings import Settings, load_settings


def _settings() -> Settings:
    try:
        return load_settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"FLASHPORT_{'_'.join(map(str, e['loc'])).upper()}: {e['msg']}" for e in exc.errors()
        )
        raise click.ClickException(f"invalid settings: {problems}") from None


def _logging(settings: Settings) -> None:
    from flashport.adapters import log_context

    log_context.configure(settings.log_level, settings.log_format)
    # httpx logs every request at INFO: the worker polls partners every second, which would drown the
    # log; failures still show, as our own warnings.
    logging.getLogger("httpx").setLevel(max(logging.WARNING, logging.getLogger().level))


def _pin_address(host: str | None, port: int | None) -> None:
    """``--host`` / ``--port`` count as FLASHPORT_HOST / FLASHPORT_PORT: the app factory (in this
    process or in uvicorn's worker processes, which inherit the environment) derives the public
    address and every partner URL from them, so the Pay button does not point at port 8000."""
    import os

    if host:
        os.environ["FLASHPORT_HOST"] = host
    if port:
        os.environ["FLASHPORT_PORT"] = str(port)


# The commands of other packages, by the module that defines each: imported when run (or listed by
# --help), so a process started for one command does not import the others. Importing the bench and
# sandbox commands cost every `flashport worker`, API or sandbox process about 0.4 to 0.6 s of CPU at
# its start, measured on this machine.
ELSEWHERE = {
    "bench": "flashport.bench.cli:bench",
    "loadcheck": "flashport.bench.cli:loadcheck",
    "bench-expiry": "flashport.bench.cli:bench_expiry",
    "bench-pipeline": "flashport.bench.pipeline_cli:bench_pipeline",
    "bench-notify": "flashport.bench.notify_cli:bench_notify",
    "bench-nodes": "flashport.bench.api_nodes:bench_nodes",
    "sandbox-pay": "flashport.sandbox_pay.cli:sandbox_pay",
    "customs-sim": "flashport.sandbox_customs.cli:customs_sim",
    "sandbox-logistics": "flashport.sandbox_logistics.cli:sandbox_logistics",
}


class _Commands(click.Group):
    """The group whose :data:`ELSEWHERE` commands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *ELSEWHERE})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in ELSEWHERE and cmd_name not in self.commands:
            module, name = ELSEWHERE[cmd_name].split(":")
            self.add_command(getattr(importlib.import_module(module), name), cmd_name)
        return super().get_command(ctx, cmd_name)


@click.group(cls=_Commands)
def main() -> None:
    """Flashport: cross-border flash sales. Settings come from FLASHPORT_* variables (see README)."""
    # A process killed by a fatal signal (SIGSEGV, SIGBUS: a C extension, a memory-mapped file on a full
    # disk) leaves its Python stack in its log instead of vanishing; the API's worker processes, started
    # afresh by uvicorn, take it from the environment.
    with contextlib.suppress(ValueError, AttributeError):  # stderr without a file (a test's runner)
        faulthandler.enable()
    os.environ.setdefault("PYTHONFAULTHANDLER", "1")


@main.command()
@click.option("--host", default=None, help="default: FLASHPORT_HOST (127.0.0.1)")
@click.option("--port", type=int, default=None, help="default: FLASHPORT_PORT (8000)")
@click.option("--workers", type=int, default=None, help="API processes; default: FLASHPORT_WORKERS (1)")
def serve(host: str | None, port: int | None, workers: int | None) -> None:
    """Serve the HTTP API with uvicorn (uvloop + httptools), in one or several processes."""
    import uvicorn

    _pin_address(host, port)
    settings = _settings()
    host, port = settings.host, settings.port
    _metrics_directory(settings)
    _logging(settings)  # the supervising process's own lines (its children set theirs up in app.py)
    click.echo(f"Flashport API on http://{host}:{port}  (docs: http://{host}:{port}/docs)")
    uvicorn.run(
        "flashport.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers or settings.workers,
        loop="uvloop",
        # The buy edge answers purchases itself and hands every other request to uvicorn's httptools
        # protocol (api/buy/edge.py); with the fast lane off, that protocol serves everything. Either
        # way every connection has deadlines: headers in time, bodies at a minimum rate
        # (api/http_deadlines.py), and idle keep-alive connections closed after timeout_keep_alive.
        http="flashport.api.buy.edge:BuyEdge"
        if settings.buy_fast_lane
        else "flashport.api.buy.uvicorn_glue:GuardedHttpToolsProtocol",
        timeout_keep_alive=settings.http_keep_alive_timeout_seconds,
        timeout_worker_healthcheck=settings.workers_healthcheck_seconds,
        log_level=settings.log_level,
        log_config=None,  # each process's app factory sets JSON lines up (app.py), uvicorn's own included
        access_log=False,
        backlog=4096,
        # No per-response Server/Date headers: small, but per request.
        server_header=False,
        date_header=False,
        # X-Forwarded-For/-Proto are believed only from the proxies FLASHPORT_FORWARDED_ALLOW_IPS names
        # (unset: from nobody). Behind a TLS proxy, -Proto makes the scheme https: Secure cookies.
        proxy_headers=bool(settings.forwarded_allow_ips),
        forwarded_allow_ips=settings.forwarded_allow_ips or None,
    )


@main.command("serve-cluster")
@click.option("--nodes", type=click.IntRange(1, 64), default=2, show_default=True, help="API processes")
@click.option("--host", default=None, help="default: FLASHPORT_HOST (127.0.0.1)")
@click.option("--port", type=int, default=None, help="HAProxy's port; default: FLASHPORT_PORT (8000)")
def serve_cluster(nodes: int, host: str | None, port: int | None) -> None:
    """Serve the API as N processes on ports of their own, behind HAProxy on --port (README: "Several
    API nodes"). Needs Debian's haproxy; Ctrl-C stops them all."""
    import os

    from flashport.api_nodes import serve_cluster as run

    settings = _settings()
    _logging(settings)
    sys.exit(run(host or settings.host, port or settings.port, nodes, settings.data_dir, os.environ))


@main.command("haproxy-config")
@click.option("--bind", default="0.0.0.0:80", show_default=True, help="where HAProxy listens")
@click.argument("nodes", nargs=-1, required=True)
def haproxy_config(bind: str, nodes: tuple[str, ...]) -> None:
    """Print HAProxy's configuration for API nodes given as HOST:PORT (README: "Several API nodes")."""
    from flashport.api_nodes import haproxy_config as render
    from flashport.api_nodes import nodes_from

    try:
        click.echo(render(bind, nodes_from(nodes)), nl=False)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def _metrics_directory(settings: Settings) -> None:
    """Several API processes count into one directory of metric files, which /metrics sums. It is made
    empty at each start (a dead process's files would otherwise be summed forever) before any process
    imports prometheus_client, which reads the variable at import. An operator's own
    PROMETHEUS_MULTIPROC_DIR is kept (and emptied all the same). The default is one directory per
    port: several ``serve`` on one machine with one data directory (API nodes behind a load balancer)
    would otherwise empty each other's files at start and each answer the sum of all."""
    import os
    import shutil

    if not settings.metrics:
        return
    name = "PROMETHEUS_MULTIPROC_DIR"  # not imported from adapters.metrics: that imports prometheus_client
    directory = os.environ.get(name) or str(settings.data_dir / "metrics" / str(settings.port))
    shutil.rmtree(directory, ignore_errors=True)
    os.makedirs(directory)
    os.environ[name] = directory


@main.command()
@click.option(
    "--only",
    multiple=True,
    metavar="STAGE",
    help="run only these stages (repeatable); a stage's name or a group: relay (the partner stages)",
)
@click.option("--skip", multiple=True, metavar="STAGE", help="run every stage but these (repeatable)")
def worker(only: tuple[str, ...], skip: tuple[str, ...]) -> None:
    """Run the background worker: expires unpaid orders, finishes interrupted stock releases, relays
    events to partners, ... (every stage, unless --only or --skip says otherwise)."""
    from flashport import worker as worker_module

    try:
        stages = worker_module.select_stages(only, skip)
    except worker_module.UnknownStage as exc:
        raise click.BadParameter(str(exc)) from None
    if not stages:
        raise click.BadParameter("--only and --skip leave no stage to run")
    settings = _settings()
    _logging(settings)
    asyncio.run(worker_module.main(settings, stages))


@main.group()
def db() -> None:
    """Database schema commands."""


@db.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    """Apply migrations up to REVISION (default: head)."""
    from flashport.adapters.db import migrate

    settings = _settings()
    migrate.upgrade(settings, revision)
    click.echo(f"database at {revision}: {settings.async_database_url.split('@')[-1]}")


@main.command()
@click.option("--serve/--no-serve", "serve_too", default=True, help="start the API and worker afterwards")
def demo(serve_too: bool) -> None:
    """Migrate, load the demo catalog with a live and an upcoming sale, then serve the API (with the
    partners' sandboxes) and run the worker until SIGTERM or Ctrl-C. Exits non-zero when either fails."""
    import flashport.demo as demo_module
    from flashport.adapters.db import migrate

    settings = _settings()
    _logging(settings)
    migrate.upgrade(settings)
    summary = asyncio.run(demo_module.load(settings))
    click.echo(summary)
    if serve_too:
        sys.exit(demo_module.serve_with_worker(settings))


@main.command()
@click.option("--repair", is_flag=True, help="fix the differences that stay stable between two readings")
@click.option("--item", "items", type=int, multiple=True, help="only these sale items (default: all live)")
@click.option("--settle", type=float, default=2.0, show_default=True, help="seconds between readings")
def reconcile(repair: bool, items: tuple[int, ...], settle: float) -> None:
    """Compare the stock engine's counters with the database truth (and repair them)."""
    from flashport.bootstrap import build_context, close_context
    from flashport.services.sales.reconcile import dangling_references
    from flashport.services.sales.reconcile import reconcile as run

    settings = _settings()

    async def go() -> int:
        ctx = await build_context(settings, listen_for_restock=False)
        try:
            reports = await run(ctx, list(items) or None, repair=repair, settle=settle)
            dangling = await dangling_references(ctx)
        finally:
            await close_context(ctx)
        click.echo(
            f"{'item':>8} {'database':>10} {'engine':>10} {'diff':>7} {'buyers off':>10} {'repaired':>9}"
            f" {'unsaved':>8}"
        )
        for r in reports:
            engine = "-" if r.engine_taken is None else str(r.engine_taken)
            diff = "-" if r.difference is None else f"{r.difference:+d}"
            fixed = "" if r.repaired_by is None else f"{r.repaired_by:+d}"
            click.echo(
                f"{r.item_id:>8} {r.truth_taken:>10} {engine:>10} {diff:>7} "
                f"{len(r.buyer_differences):>10} {fixed:>9} {r.unsaved:>8}"
            )
        bad = [r for r in reports if not r.agrees and r.repaired_by is None]
        click.echo(
            f"{len(reports)} live item(s), {len(bad)} with differences left"
            + (" (use --repair)" if bad and not repair else "")
        )
        if any(r.unsaved for r in reports):
            click.echo(
                "unsaved: units held for orders not in the database yet (being saved, or orphans of a "
                "stopped process, given back by the worker within minutes); not counted in engine"
            )
        for d in dangling:  # orders and lines have no foreign keys (migration 0007): never repaired here
            click.echo(f"problem: {d.count} {d.what}, e.g. {', '.join(d.examples)}")
        return 1 if bad or dangling else 0

    sys.exit(asyncio.run(go()))


@main.command("create-user")
@click.option("--email", required=True)
@click.option("--name", required=True)
@click.option(
    "--role",
    type=click.Choice(["operator", "merchandiser", "customer_service", "supplier", "buyer"]),
    default="operator",
    show_default=True,
)
@click.option("--supplier-id", type=int, default=None)
@click.password_option()
def create_user(email: str, name: str, role: str, supplier_id: int | None, password: str) -> None:
    """Create an account (the first operator is made this way)."""
    from flashport.bootstrap import build_context, close_context
    from flashport.domain.accounts import Role
    from flashport.domain.errors import DomainError
    from flashport.services.accounts import users as accounts

    settings = _settings()

    async def go() -> None:
        ctx = await build_context(settings, listen_for_restock=False)
        try:
            user = await accounts.register(
                ctx, email=email, password=password, name=name, role=Role(role), supplier_id=supplier_id
            )
        except DomainError as exc:
            raise click.ClickException(f"{exc.code}: {exc.message}") from None
        finally:
            await close_context(ctx)
        click.echo(f"created {user.role.value} #{user.id} {user.email}")

    asyncio.run(go())


@main.command("reseal-identities")
def reseal_identities() -> None:
    """Re-seal every ID number and customs message under the current FLASHPORT_IDENTITY_KEY (the end of a
    key rotation: afterwards FLASHPORT_PREVIOUS_IDENTITY_KEYS can be emptied)."""
    from flashport.bootstrap import build_context, close_context
    from flashport.services.accounts.rotation import reseal_everything

    settings = _settings()

    async def go() -> None:
        ctx = await build_context(settings, listen_for_restock=False)
        try:
            counts = await reseal_everything(ctx)
        finally:
            await close_context(ctx)
        for column, count in counts.items():
            click.echo(f"{column}: {count} re-sealed")

    asyncio.run(go())
