"""Prepare the benchmark sale directly in the database: one milk, one live event, M buyers, M tokens.

Rows are written with bulk SQLAlchemy Core inserts instead of the services, because registering 720,000
buyers through Argon2 would take hours. Nothing here emits outbox events: no partner is entitled to
benchmark data. Buyers get the password hash "!bench", which no Argon2 verification accepts, so nobody can
log in as them; they act only through the tokens minted here.
"""

from __future__ import annotations

import multiprocessing
import secrets
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from flashport.adapters.db.schema import (
    brands,
    products,
    sale_events,
    sale_items,
    skus,
    stock,
    suppliers,
    users,
    warehouses,
)
from flashport.domain.accounts import Principal, Role
from flashport.domain.sales import check_price_band
from flashport.services.accounts.tokens import issue_token
from flashport.services.context import Context, utc_now
from flashport.services.sales import inventory
from flashport.settings import Settings

BUYER_CHUNK = 10_000
TOKEN_CHUNK = 20_000
ORIGINAL_PRICE_FEN = 29_800
SALE_PRICE_FEN = 9_900  # 33% of the original price: inside the default 10-50% band (rule 3)


@dataclass(frozen=True)
class PreparedSale:
    run_id: str
    event_id: int
    item_id: int
    units: int
    buyer_ids: list[int]
    seconds: dict[str, float]  # how long each preparation step took, for the report


def new_run_id() -> str:
    return secrets.token_hex(4)


async def prepare_sale(ctx: Context, *, units: int, buyers: int, run_id: str) -> PreparedSale:
    """Insert the buyers, then the catalog, event and item in one transaction, then tell the stock engine."""
    check_price_band(ORIGINAL_PRICE_FEN, SALE_PRICE_FEN, ctx.policy)
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    buyer_ids = await insert_buyers(ctx, run_id, buyers)
    seconds["buyers"] = time.perf_counter() - started
    started = time.perf_counter()
    async with ctx.transaction() as tx:
        event_id, item_id = await insert_sale(tx.conn, tx.now, run_id, units)
    await inventory.items_changed(ctx, [item_id])
    seconds["sale"] = time.perf_counter() - started
    return PreparedSale(run_id, event_id, item_id, units, buyer_ids, seconds)


async def insert_buyers(ctx: Context, run_id: str, count: int, *, role: Role = Role.BUYER) -> list[int]:
    """Chunks of 10,000 rows, each chunk its own transaction, so a huge insert never holds one lock long.
    (``role``: the record bench's board screens log in as an operator made the same way.)"""
    buyer_ids: list[int] = []
    for first in range(0, count, BUYER_CHUNK):
        async with ctx.transaction() as tx:
            rows = [
                {
                    "email": f"bench-{run_id}-{n}@bench.invalid",
                    "password_hash": "!bench",
                    "role": role.value,
                    "name": f"Bench {role.value} {n}",
                    "supplier_id": None,
                    "is_active": True,
                    "created_at": tx.now,
                }
                for n in range(first, min(first + BUYER_CHUNK, count))
            ]
            result = await tx.conn.execute(users.insert().returning(users.c.id), rows)
            buyer_ids.extend(int(row.id) for row in result)
    return buyer_ids


async def insert_sale(conn: Any, now: datetime, run_id: str, units: int) -> tuple[int, int]:
    """The benchmark's sale, written straight into the database: one event, live since a minute ago, with
    one sale item of ``units`` units (one per buyer) of a milk in a bonded warehouse (1210), with its
    catalog rows. It bypasses the services' checks on purpose; ``prepare_sale`` keeps the price band."""

    async def insert(table: sa.Table, **values: Any) -> int:
        return int(await conn.scalar(table.insert().values(**values).returning(table.c.id)))

    supplier_id = await insert(suppliers, name=f"Bench dairy {run_id}", country="NZ", created_at=now)
    brand_id = await insert(brands, name=f"Bench a2 {run_id}", country="NZ", created_at=now)
    warehouse_id = await insert(
        warehouses,
        code=f"BENCH-{run_id}",
        name="Bench bonded warehouse",
        kind="bonded",
        customs_district="2244",
        country="CN",
        ems_no=f"T2244W{run_id}"[:30],
        area_code="2244960001",
        created_at=now,
    )
    product_id = await insert(
        products,
        brand_id=brand_id,
        supplier_id=supplier_id,
        title="a2 Platinum infant formula 900g",
        images=["/static/demo/milk.svg"],
        origin_country="NZ",
        hs_code="0402290000",
        legal_unit="035",
        declared_name="婴儿配方奶粉",
        tax_category="general",
        created_at=now,
        updated_at=now,
    )
    sku_id = await insert(
        skus,
        product_id=product_id,
        code=f"BENCH-{run_id}-MILK900",
        title="a2 Platinum infant formula 900g, stage 1",
        original_price_fen=ORIGINAL_PRICE_FEN,
        weight_grams=1200,
        unit="122",
        gmodel="品牌:a2|规格:900克/罐|成分:乳粉、乳糖、植物油",
        net_content=900,
        net_content_unit="g",
        net_weight_grams=900,
        packaging_weight_grams=250,
        item_record_no=f"T2244W{run_id}"[:26] + "-1",
        created_at=now,
        updated_at=now,
    )
    await conn.execute(
        stock.insert().values(
            sku_id=sku_id, warehouse_id=warehouse_id, on_hand=units, allotted=units, updated_at=now
        )
    )
    starts_at = now - timedelta(minutes=1)  # already live when the first request arrives
    event_id = await insert(
        sale_events,
        title=f"Bench sale {run_id}",
        channel="bench",
        starts_at=starts_at,
        ends_at=starts_at + timedelta(days=7),
        state="scheduled",
        created_at=now,
        updated_at=now,
    )
    item_id = await insert(
        sale_items,
        event_id=event_id,
        sku_id=sku_id,
        warehouse_id=warehouse_id,
        sale_price_fen=SALE_PRICE_FEN,
        quantity=units,
        per_buyer_limit=1,
        reserved=0,
        sold=0,
        created_at=now,
        updated_at=now,
    )
    return event_id, item_id


# --- tokens -----------------------------------------------------------------------------------------------
# issue_token costs about 20 µs (PyJWT's HMAC plus JSON), so 720,000 tokens take about 14 s on one core.
# They are minted with the real issue_token (one definition of the claims) in a pool of processes, one per
# core, before the clock starts: about 7 s on this 2-core machine.


def mint_tokens(settings: Settings, buyer_ids: Sequence[int], processes: int) -> list[str]:
    chunks = [list(buyer_ids[i : i + TOKEN_CHUNK]) for i in range(0, len(buyer_ids), TOKEN_CHUNK)]
    if processes <= 1 or len(chunks) <= 1:
        return [token for chunk in chunks for token in _mint_chunk(settings, chunk)]
    spawn = multiprocessing.get_context("spawn")  # a clean start: the caller may hold threads or a loop
    with ProcessPoolExecutor(max_workers=processes, mp_context=spawn) as pool:
        minted = pool.map(_mint_chunk, [settings] * len(chunks), chunks)
        return [token for chunk_tokens in minted for token in chunk_tokens]


def _mint_chunk(settings: Settings, buyer_ids: list[int]) -> list[str]:
    now = utc_now()
    return [issue_token(settings, Principal(buyer_id, Role.BUYER), now) for buyer_id in buyer_ids]
