"""The buyer-facing storefront: server-rendered pages (Jinja2), plain JavaScript and CSS."""

from __future__ import annotations

from fastapi import FastAPI


def install(app: FastAPI) -> None:
    """Mount the storefront's routes and static files on the platform app."""
