"""The buyers of a pipeline run. They buy the sale out over HTTP with the record bench's load generator,
then each does over HTTP what a real buyer does after winning a unit: add a real-name identity, check
out (consignee and identity), start the payment, open the provider's hosted page and pay there as
themselves.

Every buyer has an identity of their own: the annual limit (26,000 CNY) is counted per ID number, by the
platform and by customs, and one number for everybody would run out after a couple of hundred orders.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import httpx

from flashport.bench import pipeline_db as db
from flashport.bench.loadgen import Target, fire, purchase_request
from flashport.bench.setup import mint_tokens, prepare_sale
from flashport.domain.identity import id_check_character
from flashport.services.context import Context

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红"
REGION = "310115"  # Shanghai, Pudong
EARLIEST_BIRTH = date(1960, 1, 1)
PER_BIRTH_DATE = 500  # sequence numbers 000-998 (even: the check-digit rule does not care)
BIRTH_OFFSETS = 15_000  # days over which runs spread their people's birth dates
BUY_CONNECTIONS = 64


class BuyerStepFailed(RuntimeError):
    """A step the buyer takes was refused (buying included): the run cannot go on."""


@dataclass(frozen=True)
class RealName:
    name: str
    id_number: str


def real_name(n: int, *, offset_days: int = 0) -> RealName:
    """The ``n``-th bench person: a plausible Chinese name and a valid resident ID number, distinct for
    every ``n``; ``offset_days`` moves every birth date so that runs on one database differ."""
    name = SURNAMES[n % len(SURNAMES)] + GIVEN[(n // len(SURNAMES)) % len(GIVEN)] + GIVEN[n % len(GIVEN)]
    born = EARLIEST_BIRTH + timedelta(days=offset_days + n // PER_BIRTH_DATE)
    first17 = f"{REGION}{born:%Y%m%d}{2 * (n % PER_BIRTH_DATE):03d}"
    return RealName(name, first17 + id_check_character(first17))


def consignee(n: int, person: RealName) -> dict[str, Any]:
    return {
        "consignee_name": person.name,
        "consignee_phone": f"139{n % 100_000_000:08d}",
        "consignee_address": f"上海市浦东新区世纪大道{n % 9000 + 1}号",
        "consignee_district": "310115",
    }


@dataclass(frozen=True)
class Buyer:
    n: int
    token: str
    order_no: str
    person: RealName


@dataclass(frozen=True)
class BoughtOut:
    item_id: int
    buyers: list[Buyer]


async def buy_out(
    ctx: Context, count: int, platform: str, run_id: str, seconds: dict[str, float]
) -> BoughtOut:
    """A sale of ``count`` units (bench/setup.py) bought out over HTTP, one order per buyer, with real
    tokens; how long preparing and buying took goes into ``seconds``."""
    started = time.perf_counter()
    sale = await prepare_sale(ctx, units=count, buyers=count, run_id=run_id)
    tokens = mint_tokens(ctx.settings, sale.buyer_ids, processes=1)
    seconds["sale and tokens"] = time.perf_counter() - started
    started = time.perf_counter()
    target = Target.from_url(platform)
    requests = [
        purchase_request(target, sale.item_id, token, f"pipe-{run_id}-{n}") for n, token in enumerate(tokens)
    ]
    firing = await asyncio.to_thread(fire, target, requests, connections=min(BUY_CONNECTIONS, count))
    if firing.outcomes.get("201", 0) != count:
        raise BuyerStepFailed(f"buying {count} units answered {dict(firing.outcomes)}")
    seconds["buy"] = time.perf_counter() - started
    orders = await db.order_numbers(ctx, sale.item_id)
    offset = int(run_id, 16) % BIRTH_OFFSETS  # each run's buyers are other people than the last run's
    buyers = [
        Buyer(n, token, orders[buyer_id], real_name(n, offset_days=offset))
        for n, (buyer_id, token) in enumerate(zip(sale.buyer_ids, tokens, strict=True))
    ]
    return BoughtOut(sale.item_id, buyers)


async def check_out_and_pay(http: httpx.AsyncClient, platform: str, pay_url: str, buyer: Buyer) -> str:
    """Identity, checkout, payment; returns the payment's ``out_trade_no``."""
    headers = {"authorization": f"Bearer {buyer.token}"}
    identity = await _ok(
        http.post(
            f"{platform}/api/v1/identities",
            json={"name": buyer.person.name, "id_number": buyer.person.id_number},
            headers=headers,
        )
    )
    form = consignee(buyer.n, buyer.person) | {"identity_id": identity["id"]}
    await _ok(http.post(f"{platform}/api/v1/orders/{buyer.order_no}/checkout", json=form, headers=headers))
    payment = await _ok(http.post(f"{platform}/api/v1/orders/{buyer.order_no}/pay", headers=headers))
    await pay_on_hosted_page(http, pay_url, payment, buyer.person)
    return str(payment["out_trade_no"])


async def pay_on_hosted_page(
    http: httpx.AsyncClient, pay_url: str, payment: dict[str, Any], payer: RealName
) -> None:
    """The one payment step: the buyer's browser opens the provider's page (which opens the trade), and
    the buyer confirms as the identity they checked out with. The sandbox's convenience route stands in
    for the confirm button; the provider then sends its real signed notification to the platform."""
    await _ok(_opened(http, str(payment["redirect_url"])), json=False)
    await _ok(
        http.post(
            f"{pay_url}/sandbox/trades/{payment['out_trade_no']}/pay",
            json={"payer_name": payer.name, "payer_id_number": payer.id_number},
        )
    )


async def _opened(http: httpx.AsyncClient, url: str) -> httpx.Response:
    """The hosted page, opened again once if the connection broke (a reload: opening is idempotent)."""
    try:
        return await http.get(url)
    except httpx.TransportError:
        return await http.get(url)


async def _ok(request: Any, *, json: bool = True) -> Any:
    answer: httpx.Response = await request
    if answer.status_code >= 300:
        raise BuyerStepFailed(
            f"{answer.request.method} {answer.url.path}: {answer.status_code} {answer.text}"
        )
    return answer.json() if json else None


async def check_out_and_pay_all(
    platform: str, pay_url: str, buyers: list[Buyer], *, concurrency: int
) -> list[str]:
    """Every buyer's steps, ``concurrency`` buyers at a time; the first refusal stops the run."""
    gate = asyncio.Semaphore(concurrency)
    # Idle connections are dropped before the servers' own keep-alive timeout (uvicorn: 5 s, httpx's
    # default too): a request on a connection the server is closing at that instant fails with a
    # ReadError, which a loaded machine made happen in about one run of two.
    limits = httpx.Limits(
        max_connections=concurrency, max_keepalive_connections=concurrency, keepalive_expiry=2.0
    )
    async with httpx.AsyncClient(timeout=60.0, limits=limits) as http:

        async def one(buyer: Buyer) -> str:
            async with gate:
                return await check_out_and_pay(http, platform, pay_url, buyer)

        return list(await asyncio.gather(*(one(b) for b in buyers)))
