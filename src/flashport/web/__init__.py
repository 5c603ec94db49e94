"""The buyer-facing storefront: server-rendered pages (Jinja2), plain JavaScript and CSS.

No build step and nothing fetched from other sites: templates live in ``templates/``, scripts, styles
and demo images in ``static/``. Pages read through the same services as the API, cached per process
(:mod:`flashport.web.state`); buying goes through :func:`flashport.services.sales.buying.buy` with one
idempotency key per purchase intent. Paying comes after checkout (:mod:`flashport.web.routes.checkout`):
the buyer names who is buying (a real-name identity) and who receives the parcel, and the order is
priced for customs.
"""

from __future__ import annotations

from fastapi import FastAPI

from flashport.web.assets import STATIC_DIR, AssetFiles, versions
from flashport.web.routes import (
    account,
    addresses,
    basket,
    board,
    browse,
    calendar,
    catalog_console,
    checkout,
    console,
    desk,
    identities,
    language,
    live,
    operator,
    orders,
    purchase,
    queue,
    returns,
    supplier,
)
from flashport.web.routes import notifications as notification_pages
from flashport.web.state import Storefront, Templates


def install(app: FastAPI) -> None:
    """Mount the storefront's routes and static files on the platform app."""
    app.state.storefront = Storefront(Templates.build(versions()))
    for module in (
        purchase,
        browse,
        live,
        orders,
        checkout,
        account,
        identities,
        addresses,
        operator,
        board,
        console,
        desk,
        calendar,
        catalog_console,
        supplier,
        language,
        returns,
        notification_pages,
        basket,
        queue,
    ):
        app.include_router(module.router)
    app.include_router(catalog_console.media)  # uploaded product images
    app.mount("/static", AssetFiles(directory=STATIC_DIR), name="static")
