"""``flashport demo``: a sample catalog of international brands, one live sale and one upcoming, loaded
through the same services the API uses (so the demo obeys every rule the API does).

Brand names are real, well-known brands used as sample data; prices, stock, HS codes and warehouse
customs districts are illustrative.
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import replace
from datetime import timedelta
from typing import Any

import httpx
import sqlalchemy as sa

from flashport.adapters.db.schema import brands
from flashport.bootstrap import build_context, close_context
from flashport.domain.accounts import Principal, Role
from flashport.domain.sale_entities import EventView
from flashport.services.accounts import users as accounts
from flashport.services.catalog import products as catalog_products
from flashport.services.catalog import reference as catalog
from flashport.services.catalog import stock as catalog_stock
from flashport.services.catalog import tax_rules
from flashport.services.context import Context
from flashport.services.sales import events
from flashport.services.sales import items as events_items
from flashport.services.sales import queries as events_queries
from flashport.settings import Settings
from flashport.supervisor import Child, Supervisor

DEMO_PASSWORD = "flashport-demo"
CHANNEL = "global-flash-sale"

SUPPLIERS = [
    ("Pacific Nutrition Trading Ltd", "NZ"),
    ("EuroBeauty Distribution GmbH", "DE"),
    ("Nippon Select Export KK", "JP"),
    ("Atlantic Brands Import LLC", "US"),
]

WAREHOUSES = [
    {
        "code": "NB-BONDED-01",
        "name": "Ningbo Meishan bonded warehouse",
        "kind": "bonded",
        "customs_district": "3105",
        "ems_no": "T3105W000001",
    },
    {
        "code": "GZ-BONDED-01",
        "name": "Guangzhou Nansha bonded warehouse",
        "kind": "bonded",
        "customs_district": "5165",
        "ems_no": "T5165W000002",
    },
    {"code": "AKL-01", "name": "Auckland export hub", "kind": "overseas", "country": "NZ"},
    {"code": "FRA-01", "name": "Frankfurt export hub", "kind": "overseas", "country": "DE"},
    {"code": "LAX-01", "name": "Los Angeles export hub", "kind": "overseas", "country": "US"},
]

# brand, brand country, supplier index, title, spec, HS code, legal unit, tax category, price (CNY),
# weight (g), warehouse code, units on hand
PRODUCTS: list[tuple[Any, ...]] = [
    (
        "a2 Milk",
        "NZ",
        0,
        "a2 Platinum Premium infant formula stage 3",
        "900 g tin",
        "1901101000",
        "035",
        "general",
        "298.00",
        1200,
        "NB-BONDED-01",
        5000,
    ),
    (
        "Comvita",
        "NZ",
        0,
        "Comvita Manuka honey UMF 10+",
        "250 g jar",
        "0409000000",
        "035",
        "reduced_vat",
        "229.00",
        400,
        "AKL-01",
        800,
    ),
    (
        "Swisse",
        "AU",
        0,
        "Swisse Vitamin C manuka honey chewables",
        "120 tablets",
        "2106909090",
        "035",
        "general",
        "159.00",
        300,
        "NB-BONDED-01",
        3000,
    ),
    (
        "Blackmores",
        "AU",
        0,
        "Blackmores Odourless fish oil 1000 mg",
        "400 capsules",
        "2106909090",
        "035",
        "general",
        "219.00",
        650,
        "NB-BONDED-01",
        2500,
    ),
    (
        "Aptamil",
        "DE",
        1,
        "Aptamil Pronutra infant formula stage 2",
        "800 g tin",
        "1901101000",
        "035",
        "general",
        "268.00",
        1100,
        "GZ-BONDED-01",
        4000,
    ),
    (
        "Braun",
        "DE",
        1,
        "Braun Series 9 Pro electric shaver",
        "9465cc",
        "8510100000",
        "007",
        "general",
        "3299.00",
        900,
        "FRA-01",
        300,
    ),
    (
        "Lancôme",
        "FR",
        1,
        "Lancôme Advanced Génifique serum",
        "50 ml",
        "3304990099",
        "035",
        "consumption_tax",
        "1080.00",
        250,
        "GZ-BONDED-01",
        1200,
    ),
    (
        "L'Occitane",
        "FR",
        1,
        "L'Occitane Shea butter hand cream",
        "150 ml",
        "3304990099",
        "035",
        "general",
        "250.00",
        200,
        "GZ-BONDED-01",
        2000,
    ),
    (
        "Shiseido",
        "JP",
        2,
        "Shiseido Ultimune power infusing concentrate",
        "50 ml",
        "3304990099",
        "035",
        "consumption_tax",
        "890.00",
        260,
        "NB-BONDED-01",
        1500,
    ),
    (
        "Merries",
        "JP",
        2,
        "Merries baby diapers size M",
        "64 pieces",
        "9619001100",
        "035",
        "general",
        "139.00",
        1800,
        "NB-BONDED-01",
        6000,
    ),
    (
        "Estée Lauder",
        "US",
        3,
        "Estée Lauder Advanced Night Repair serum",
        "50 ml",
        "3304990099",
        "035",
        "consumption_tax",
        "1020.00",
        240,
        "LAX-01",
        900,
    ),
    (
        "Centrum",
        "US",
        3,
        "Centrum Adults multivitamin",
        "200 tablets",
        "2106909090",
        "035",
        "general",
        "199.00",
        350,
        "LAX-01",
        1500,
    ),
    (
        "Dyson",
        "GB",
        3,
        "Dyson Supersonic hair dryer HD15",
        "Nickel/copper",
        "8516310000",
        "007",
        "general",
        "3199.00",
        1800,
        "GZ-BONDED-01",
        400,
    ),
]

# (product index, sale price, allotted units, per-buyer limit)
LIVE_ITEMS = [
    (0, "99.00", 3000, 2),
    (1, "89.00", 300, 2),
    (2, "59.00", 1500, 3),
    (3, "79.00", 1200, 2),
    (4, "109.00", 2000, 2),
    (9, "49.00", 3000, 4),
    (11, "69.00", 800, 2),
]
UPCOMING_ITEMS = [
    (6, "429.00", 600, 1),
    (7, "99.00", 1000, 2),
    (8, "349.00", 800, 1),
    (10, "399.00", 500, 1),
    (5, "1299.00", 150, 1),
    (12, "1399.00", 200, 1),
]


NET_CONTENT = re.compile(r"^(\d+(?:\.\d+)?) (ml|g)\b")


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in text.lower()).strip("-")


async def _already_loaded(ctx: Context) -> bool:
    async with ctx.read() as conn:
        return bool(await conn.scalar(sa.select(sa.func.count()).select_from(brands)))


async def _catalog(ctx: Context, operator: Principal) -> tuple[list[int], dict[str, int]]:
    supplier_ids = [
        (await catalog.create_supplier(ctx, name=name, country=country)).id for name, country in SUPPLIERS
    ]
    houses = {w["code"]: (await catalog.create_warehouse(ctx, **w)).id for w in WAREHOUSES}
    brand_ids: dict[str, int] = {}
    sku_ids: list[int] = []
    for brand, country, supplier, title, spec, hs, unit, tax, price, grams, house, units in PRODUCTS:
        if brand not in brand_ids:
            brand_ids[brand] = (
                await catalog.create_brand(
                    ctx, name=brand, country=country, description=f"{brand}, imported from {country}."
                )
            ).id
        product = await catalog_products.create_product(
            ctx,
            operator,
            brand_id=brand_ids[brand],
            supplier_id=supplier_ids[supplier],
            title=title,
            description=f"{title}, {spec}. Genuine goods, imported under the cross-border e-commerce rules.",
            images=[f"/static/demo/{_slug(brand)}.svg"],
            origin_country=country,
            hs_code=hs,
            legal_unit=unit,
            tax_category=tax,
            skus=[
                {
                    "code": f"{_slug(brand)[:12].upper()}-{len(sku_ids) + 1:03d}",
                    "title": spec,
                    "spec": spec,
                    "original_price": price,
                    "weight_grams": grams,
                    "unit": "007",
                }
            ],
        )
        sku_id = product.skus[0].id
        await catalog_stock.set_on_hand(ctx, operator, sku_id, houses[house], units)
        content = NET_CONTENT.match(spec)  # "50 ml": the Lancôme at 429.00 is 8.58 per ml, no excise
        if content:
            await tax_rules.set_net_content(ctx, operator, sku_id, content[1], content[2])
        sku_ids.append(sku_id)
    return sku_ids, houses


async def _event(
    ctx: Context,
    title: str,
    starts_in: timedelta,
    days: int,
    items: list[tuple[Any, ...]],
    sku_ids: list[int],
    banner: str | None,
) -> EventView:
    now = ctx.clock()
    # Scheduling needs a start in the future; a live demo sale is scheduled "two days ago".
    author = replace(ctx, clock=lambda: now + min(starts_in, timedelta(0)) - timedelta(days=1))
    starts = now + starts_in
    event = await events.create_event(
        author,
        title=title,
        channel=CHANNEL,
        starts_at=starts,
        ends_at=starts + timedelta(days=days),
        banner_url=banner,
        description=f"{title}: authentic international brands, limited stock.",
    )
    for index, price, quantity, limit in items:
        warehouse_id = next(iter(await _warehouse_of(ctx, sku_ids[index])))
        await events_items.add_item(
            author,
            event.id,
            sku_id=sku_ids[index],
            warehouse_id=warehouse_id,
            sale_price=price,
            quantity=quantity,
            per_buyer_limit=limit,
        )
    await events.schedule_event(author, event.id)
    return await events_queries.get_admin_event(ctx, event.id)


async def _warehouse_of(ctx: Context, sku_id: int) -> list[int]:
    from flashport.adapters.db.schema import stock

    async with ctx.read() as conn:
        return list(
            (await conn.scalars(sa.select(stock.c.warehouse_id).where(stock.c.sku_id == sku_id))).all()
        )


async def load(settings: Settings) -> str:
    """Load the demo once; a second run leaves existing data alone."""
    ctx = await build_context(settings, listen_for_restock=False)
    try:
        if await _already_loaded(ctx):
            return "demo data already present: nothing loaded"
        operator_user = await accounts.register(
            ctx,
            email="operator@flashport.demo",
            password=DEMO_PASSWORD,
            name="Demo Operator",
            role=Role.OPERATOR,
        )
        await accounts.register(ctx, email="buyer@flashport.demo", password=DEMO_PASSWORD, name="Demo Buyer")
        operator = Principal(operator_user.id, Role.OPERATOR)
        sku_ids, _ = await _catalog(ctx, operator)
        live = await _event(
            ctx, "Oceania & Europe nutrition week", timedelta(hours=-6), 7, LIVE_ITEMS, sku_ids, None
        )
        upcoming = await _event(
            ctx, "Paris, Tokyo & New York beauty days", timedelta(days=2), 6, UPCOMING_ITEMS, sku_ids, None
        )
    finally:
        await close_context(ctx)
    return (
        f"demo loaded: {len(PRODUCTS)} products of {len({p[0] for p in PRODUCTS})} brands from "
        f"{len({p[1] for p in PRODUCTS})} countries; live event #{live.id} ({live.status}), "
        f"upcoming event #{upcoming.id} ({upcoming.status}).\n"
        f"log in as operator@flashport.demo or buyer@flashport.demo, password {DEMO_PASSWORD}"
    )


def serve_with_worker(settings: Settings) -> int:
    """Serve the API with the partners' sandboxes mounted, then, once it answers, run the worker; stop
    both together (see :mod:`flashport.supervisor`). Returns the code ``flashport demo`` exits with."""
    env = {  # the demo's partners: payment provider, customs single window and carrier
        **os.environ,
        "FLASHPORT_SANDBOX_PAY_MOUNTED": "true",
        "FLASHPORT_SANDBOX_CUSTOMS_MOUNTED": "true",
        "FLASHPORT_SANDBOX_LOGISTICS_MOUNTED": "true",
    }
    command = [sys.executable, "-m", "flashport"]
    children = [
        Child(
            "flashport serve", [*command, "serve"], ready=lambda: _answers(settings.listen_url + "/healthz")
        ),
        Child("flashport worker", [*command, "worker"]),
    ]

    def announce() -> None:
        url = settings.public_url
        print(f"Flashport demo on {url}/  (API docs: {url}/docs); Ctrl-C stops it", flush=True)

    return Supervisor(env).run(children, on_ready=announce)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2.0).status_code == 200
    except httpx.HTTPError:
        return False
