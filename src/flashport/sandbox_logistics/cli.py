"""``sandbox-logistics``: run the sandbox carrier on its own port (registered in the main CLI)."""

from __future__ import annotations

import click
from pydantic import ValidationError

from flashport.sandbox_logistics.settings import LogisticsSimSettings


@click.command("sandbox-logistics")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=8003, show_default=True)
def sandbox_logistics(host: str, port: int) -> None:
    """Run the sandbox carrier on HOST:PORT. Settings: FLASHPORT_SANDBOX_LOGISTICS_*. Point the
    platform at it with FLASHPORT_LOGISTICS_URL=http://HOST:PORT."""
    import uvicorn

    from flashport.sandbox_logistics import create_logistics_app

    try:
        settings = LogisticsSimSettings()
    except ValidationError as exc:
        raise click.ClickException(f"invalid carrier settings: {exc}") from None
    click.echo(f"Sandbox carrier on http://{host}:{port}/v1/waybills  (declares to {settings.customs_url})")
    # One process only: the locks that keep a waybill's messages in order live in it.
    uvicorn.run(create_logistics_app(settings), host=host, port=port, log_level="info")
