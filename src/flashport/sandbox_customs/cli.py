"""``customs-sim``: run the single-window simulator on its own port (registered in the main CLI)."""

from __future__ import annotations

import click
from pydantic import ValidationError

from flashport.sandbox_customs.settings import CustomsSimSettings


@click.command("customs-sim")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=8002, show_default=True)
def customs_sim(host: str, port: int) -> None:
    """Run the customs single-window simulator on HOST:PORT. Settings: FLASHPORT_CUSTOMS_SIM_*.
    Point the platform at it with FLASHPORT_CUSTOMS_URL=http://HOST:PORT."""
    import uvicorn

    from flashport.sandbox_customs import create_customs_app

    try:
        settings = CustomsSimSettings()
    except ValidationError as exc:
        raise click.ClickException(f"invalid simulator settings: {exc}") from None
    click.echo(
        f"Single-window simulator on http://{host}:{port}  (record in {settings.database_file.resolve()})"
    )
    uvicorn.run(create_customs_app(settings), host=host, port=port, log_level="info")
