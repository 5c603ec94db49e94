"""Static files: the storefront's CSS, scripts and demo images, served by the app itself.

Stylesheets and scripts are linked with a content hash (``?v=``), so browsers may keep them for a year
and still never run a stale copy; anything else is cached for an hour. A demo product image that does
not exist falls back to a generic placeholder, so a product never shows a broken image.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

STATIC_DIR = Path(__file__).parent / "static"
FALLBACK_IMAGE = "demo/product.svg"
LONG_CACHE = "public, max-age=31536000, immutable"
SHORT_CACHE = "public, max-age=3600"


def versions(root: Path = STATIC_DIR) -> dict[str, str]:
    """A short content hash per stylesheet and script, computed once when the app is built."""
    found: dict[str, str] = {}
    for path in sorted([*root.glob("css/*.css"), *root.glob("js/*.js")]):
        found[path.relative_to(root).as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
    return found


class AssetFiles(StaticFiles):
    async def get_response(self, path: str, scope: Scope) -> Response:
        try:
            response = await super().get_response(path, scope)
        except HTTPException as exc:
            if exc.status_code != 404 or not (path.startswith("demo/") and path.endswith(".svg")):
                raise
            response = await super().get_response(FALLBACK_IMAGE, scope)
        versioned = b"v=" in scope.get("query_string", b"")
        response.headers["Cache-Control"] = LONG_CACHE if versioned else SHORT_CACHE
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response
