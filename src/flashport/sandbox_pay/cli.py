"""``sandbox-pay``: run the sandbox payment provider on its own port (registered in the main CLI)."""

from __future__ import annotations

import click
from pydantic import ValidationError

from flashport.sandbox_pay.settings import SandboxSettings


@click.command("sandbox-pay")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=8001, show_default=True)
def sandbox_pay(host: str, port: int) -> None:
    """Run the sandbox payment provider (plays Alipay) on HOST:PORT. Settings: FLASHPORT_SANDBOX_*."""
    import uvicorn

    from flashport.sandbox_pay.app import create_sandbox_app

    try:
        settings = SandboxSettings()
    except ValidationError as exc:
        raise click.ClickException(f"invalid sandbox settings: {exc}") from None
    keys_dir = settings.keys_dir.resolve()
    click.echo(
        f"Sandbox Pay on http://{host}:{port}/gateway.do  (app_id {settings.app_id}, keys in {keys_dir})"
    )
    # One process only: the sender and the refund lock live in it.
    uvicorn.run(create_sandbox_app(settings), host=host, port=port, log_level="info")
