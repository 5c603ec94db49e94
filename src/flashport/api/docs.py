"""Interactive API docs at /docs that work without the internet: Swagger UI's files come from the
``swagger-ui-bundle`` package and its start-up script from ours (no inline script, so the page keeps a
strict Content-Security-Policy; Swagger UI sets inline styles, which its page alone allows)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

from flashport.api.guards import CSP

ASSETS = "/docs-assets"
OWN_ASSETS = Path(__file__).with_name("docs_assets")
DOCS_CSP = CSP.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")

PAGE = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Flashport API</title>
<link rel="stylesheet" href="{ASSETS}/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{ASSETS}/swagger-ui-bundle.js"></script>
<script src="{ASSETS}/flashport/init.js"></script>
</body>
</html>
"""


def install(app: FastAPI) -> None:
    """Serve /docs and its assets (the app is built with ``docs_url=None``)."""
    app.mount(f"{ASSETS}/flashport", StaticFiles(directory=OWN_ASSETS), name="docs-own-assets")
    app.mount(ASSETS, StaticFiles(directory=str(swagger_ui_path)), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return HTMLResponse(PAGE, headers={"Content-Security-Policy": DOCS_CSP})
