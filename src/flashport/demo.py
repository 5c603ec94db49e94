"""``flashport demo``: a sample catalog of international brands, one live sale and one upcoming, loaded
through the same services the API uses (so the demo obeys every rule the API does).

Brand names are real, well-known brands used as sample data; prices, stock, warehouse customs
districts, area codes and record numbers are illustrative. The HS codes are on the positive list
shipped with the package; the Chinese declared names, declaration elements (gmodel), net contents and
weights are what a broker would declare for such goods.
"""

from __future__ import annotations

import os
import sys
from dataclasses import replace
from datetime import timedelta
from typing import Any

import httpx
import sqlalchemy as sa

from flashport.adapters.db.schema import brands
from flashport.bootstrap import build_context, close_context
from flashport.domain.accounts import Principal, Role
from flashport.domain.partners import PartnerKind
from flashport.domain.sale_entities import EventView
from flashport.services.accounts import users as accounts
from flashport.services.catalog import products as catalog_products
from flashport.services.catalog import reference as catalog
from flashport.services.catalog import stock as catalog_stock
from flashport.services.context import Context
from flashport.services.partners import enrolment
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
        "area_code": "3105W60001",
    },
    {
        "code": "GZ-BONDED-01",
        "name": "Guangzhou Nansha bonded warehouse",
        "kind": "bonded",
        "customs_district": "5165",
        "ems_no": "T5165W000002",
        "area_code": "5165W60002",
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
        "001",
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
        "001",
        "general",
        "3199.00",
        1800,
        "GZ-BONDED-01",
        400,
    ),
]

# Per product, as customs reads it: Chinese declared name, gmodel (brand|specification|composition),
# customs unit of sale (122 can, 142 bottle, 125 pack, 011 article, 001 set), net content and its unit,
# net weight (g) and packaging weight (g). Net + packaging never exceeds the shipping weight above.
DECLARED: list[tuple[str, str, str, str, str, int, int]] = [
    (
        "a2至初婴幼儿配方奶粉3段",
        "品牌:a2至初|规格:900克/罐|成分:乳粉、乳糖、植物油、矿物质、维生素",
        "122",
        "900",
        "g",
        900,
        300,
    ),
    ("康维他麦卢卡蜂蜜UMF10+", "品牌:康维他|规格:250克/瓶|成分:麦卢卡蜂蜜", "142", "250", "g", 250, 150),
    (
        "Swisse维生素C咀嚼片",
        "品牌:Swisse|规格:120片/瓶|成分:维生素C、麦卢卡蜂蜜、山梨糖醇",
        "142",
        "120",
        "pcs",
        240,
        60,
    ),
    (
        "澳佳宝无腥味深海鱼油软胶囊",
        "品牌:澳佳宝|规格:1000毫克*400粒/瓶|成分:鱼油、明胶、甘油",
        "142",
        "400",
        "pcs",
        560,
        90,
    ),
    (
        "爱他美婴儿配方奶粉2段",
        "品牌:爱他美|规格:800克/罐|成分:脱脂乳、乳糖、植物油、低聚半乳糖",
        "122",
        "800",
        "g",
        800,
        300,
    ),
    (
        "博朗9系电动剃须刀",
        "品牌:博朗|规格:9465cc往复式充电剃须刀|成分:不锈钢刀头、塑料外壳、锂电池",
        "001",
        "1",
        "pcs",
        650,
        250,
    ),
    (
        "兰蔻小黑瓶精华肌底液",
        "品牌:兰蔻|规格:50毫升/瓶|成分:二裂酵母发酵产物溶胞物、水、甘油",
        "142",
        "50",
        "ml",
        55,
        195,
    ),
    (
        "欧舒丹乳木果护手霜",
        "品牌:欧舒丹|规格:150毫升/支|成分:乳木果油、甘油、水",
        "011",
        "150",
        "ml",
        160,
        40,
    ),
    ("资生堂红腰子精华液", "品牌:资生堂|规格:50毫升/瓶|成分:水、甘油、丁二醇", "142", "50", "ml", 55, 205),
    (
        "花王妙而舒婴儿纸尿裤M号",
        "品牌:花王妙而舒|规格:M号64片/包|成分:无纺布、高分子吸水树脂、绒毛浆",
        "125",
        "64",
        "pcs",
        1650,
        150,
    ),
    (
        "雅诗兰黛特润修护肌活精华露",
        "品牌:雅诗兰黛|规格:50毫升/瓶|成分:二裂酵母发酵产物溶胞物、水、丁二醇",
        "142",
        "50",
        "ml",
        55,
        185,
    ),
    (
        "善存成人复合维生素片",
        "品牌:善存|规格:200片/瓶|成分:碳酸钙、维生素C、氧化镁",
        "142",
        "200",
        "pcs",
        280,
        70,
    ),
    (
        "戴森吹风机HD15",
        "品牌:戴森|规格:HD15 1600W 镍/铜色|成分:塑料外壳、电机、加热元件",
        "001",
        "1",
        "pcs",
        1000,
        800,
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


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in text.lower()).strip("-")


async def _already_loaded(ctx: Context) -> bool:
    async with ctx.read() as conn:
        return bool(await conn.scalar(sa.select(sa.func.count()).select_from(brands)))


# What Chinese readers see: each brand's Chinese name as it is sold in China, and each product's Chinese
# title (by its English title).
BRANDS_ZH = {
    "a2 Milk": "a2 至初",
    "Comvita": "康维他",
    "Swisse": "斯维诗",
    "Blackmores": "澳佳宝",
    "Aptamil": "爱他美",
    "Braun": "博朗",
    "Lancôme": "兰蔻",
    "L'Occitane": "欧舒丹",
    "Shiseido": "资生堂",
    "Merries": "花王妙而舒",
    "Estée Lauder": "雅诗兰黛",
    "Centrum": "善存",
    "Dyson": "戴森",
}
TITLES_ZH = {
    "a2 Platinum Premium infant formula stage 3": "a2 至初 白金版 婴幼儿配方奶粉 3段 900克",
    "Comvita Manuka honey UMF 10+": "康维他 麦卢卡蜂蜜 UMF10+ 250克",
    "Swisse Vitamin C manuka honey chewables": "斯维诗 麦卢卡蜂蜜维生素C咀嚼片 120片",
    "Blackmores Odourless fish oil 1000 mg": "澳佳宝 无腥味深海鱼油 1000毫克 400粒",
    "Aptamil Pronutra infant formula stage 2": "爱他美 较大婴儿配方奶粉 2段 800克",
    "Braun Series 9 Pro electric shaver": "博朗 9系 Pro 电动剃须刀",
    "Lancôme Advanced Génifique serum": "兰蔻 小黑瓶 精华肌底液 50毫升",
    "L'Occitane Shea butter hand cream": "欧舒丹 乳木果护手霜 150毫升",
    "Shiseido Ultimune power infusing concentrate": "资生堂 红腰子 红妍肌活精华露 50毫升",
    "Merries baby diapers size M": "花王妙而舒 婴儿纸尿裤 M码 64片",
    "Estée Lauder Advanced Night Repair serum": "雅诗兰黛 小棕瓶 特润修护肌活精华露 50毫升",
    "Centrum Adults multivitamin": "善存 成人多种维生素矿物质片 200片",
    "Dyson Supersonic hair dryer HD15": "戴森 Supersonic 吹风机 HD15 镍铜色",
}
COUNTRIES_ZH = {
    "NZ": "新西兰",
    "AU": "澳大利亚",
    "DE": "德国",
    "FR": "法国",
    "GB": "英国",
    "JP": "日本",
    "US": "美国",
}

# Chinese sentences use full-width punctuation (ruff's RUF001 would take it for a look-alike).
GENUINE_ZH = "正品保证，按跨境电商零售进口政策通关。"  # noqa: RUF001


def _brand_text_zh(brand: str, country: str) -> str:
    return f"{BRANDS_ZH[brand]}，{COUNTRIES_ZH.get(country, '海外')}品牌，正品进口。"  # noqa: RUF001


async def _catalog(ctx: Context, operator: Principal) -> tuple[list[int], dict[str, int]]:
    supplier_ids = [
        (await catalog.create_supplier(ctx, name=name, country=country)).id for name, country in SUPPLIERS
    ]
    houses = {w["code"]: (await catalog.create_warehouse(ctx, **w)).id for w in WAREHOUSES}
    books = {w["code"]: w.get("ems_no") for w in WAREHOUSES}
    brand_ids: dict[str, int] = {}
    sku_ids: list[int] = []
    for position, row in enumerate(PRODUCTS):
        brand, country, supplier, title, spec, hs, unit, tax, price, grams, house, units = row
        name, gmodel, sale_unit, content, content_unit, net, packaging = DECLARED[position]
        book = books[house]
        if brand not in brand_ids:
            brand_ids[brand] = (
                await catalog.create_brand(
                    ctx,
                    name=brand,
                    country=country,
                    description=f"{brand}, imported from {country}.",
                    name_zh=BRANDS_ZH[brand],
                    description_zh=_brand_text_zh(brand, country),
                )
            ).id
        product = await catalog_products.create_product(
            ctx,
            operator,
            brand_id=brand_ids[brand],
            supplier_id=supplier_ids[supplier],
            title=title,
            declared_name=name,
            description=f"{title}, {spec}. Genuine goods, imported under the cross-border e-commerce rules.",
            title_zh=TITLES_ZH[title],
            description_zh=f"{TITLES_ZH[title]}。{GENUINE_ZH}",
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
                    "unit": sale_unit,
                    "gmodel": gmodel,
                    "net_content": content,
                    "net_content_unit": content_unit,
                    "net_weight_grams": net,
                    "packaging_weight_grams": packaging,
                    # The record number of the goods in the warehouse's bonded account book (1210).
                    "item_record_no": f"{book}-{position + 1:04d}" if book else None,
                }
            ],
        )
        sku_id = product.skus[0].id
        await catalog_stock.set_on_hand(ctx, operator, sku_id, houses[house], units)
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


async def _enrol_carrier(ctx: Context, settings: Settings) -> None:
    """The sandbox carrier as a partner with a key, which it finds in its own folder and follows its
    partner feed with (see ``sandbox_logistics/feed.py``); once, unless the key file is gone."""
    from flashport.sandbox_logistics import LogisticsSimSettings

    carrier = LogisticsSimSettings(data_dir=settings.data_dir)
    if carrier.partner_key_file.is_file():
        return
    _, key = await enrolment.enrol(
        ctx, name=carrier.customs_name, kind=PartnerKind.CARRIER, logistics_code=carrier.customs_code
    )
    carrier.partner_key_file.parent.mkdir(parents=True, exist_ok=True)
    carrier.partner_key_file.write_text(key + "\n")
    carrier.partner_key_file.chmod(0o600)


async def _enrol_payment_company(ctx: Context, settings: Settings) -> None:
    """The sandbox payment company as a partner with a key, which it finds in its own folder and
    follows its partner feed with, for refunds (see ``sandbox_pay/refund_feed.py``); once, unless the
    key file is gone. Its scope is the payments made with the provider it plays."""
    from flashport.sandbox_pay.settings import SandboxSettings

    payer = SandboxSettings(data_dir=settings.data_dir)
    if payer.partner_key_file.is_file():
        return
    _, key = await enrolment.enrol(
        ctx, name=payer.customs_name, kind=PartnerKind.PAYMENT_COMPANY, pay_code=ctx.payments.name
    )
    payer.partner_key_file.parent.mkdir(parents=True, exist_ok=True)
    payer.partner_key_file.write_text(key + "\n")
    payer.partner_key_file.chmod(0o600)


async def load(settings: Settings) -> str:
    """Load the demo once; a second run leaves existing data alone (the carrier's partner key is
    made again only if its file is gone)."""
    ctx = await build_context(settings, listen_for_restock=False)
    try:
        await _enrol_carrier(ctx, settings)
        await _enrol_payment_company(ctx, settings)
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
        # The carrier takes released parcels from its partner feed, not one call per parcel.
        "FLASHPORT_LOGISTICS_HANDOVER": os.environ.get("FLASHPORT_LOGISTICS_HANDOVER", "feed"),
        # The payment company takes refunds from its partner feed, not one call per refund.
        "FLASHPORT_PAYMENT_REFUNDS": os.environ.get("FLASHPORT_PAYMENT_REFUNDS", "feed"),
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
