"""``flashport bench --rush N``: a rush through the waiting room (issue 19, point 7).

N times as many buyers as units arrive at a hot item over HTTP: half of them during the pre-queue
(before the start), half after it. Each joins the queue (answering a proof-of-work challenge if put
one), polls until admitted or told the item is sold out, then buys with its admission token; a share
of the buyers send their purchase again with the same ``Idempotency-Key``, as a client does after a
timeout (and every buyer whose request does time out retries so). The report:

- how long admitted buyers waited (join to admission) and their buy latency once admitted;
- time to sell out, from the start;
- fairness: Spearman's rank correlation between order of arrival and place, for the pre-queue (about 0
  after the shuffle) and for later arrivals (1: first come, first served);
- retries answered, 5xx answers (must be 0), and units oversold (must be 0).
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
import sqlalchemy as sa

from flashport.adapters.db.schema import sale_events
from flashport.bench import report
from flashport.bench.setup import insert_buyers, insert_sale, mint_tokens, new_run_id
from flashport.domain.accounts import Role
from flashport.domain.waiting_room import solve_challenge
from flashport.services.context import Context
from flashport.services.sales import inventory
from flashport.services.waiting_room import rooms

MAX_POLL_SECONDS = 5.0  # the buyers poll at the server's hint, at most this long apart


@dataclass(frozen=True)
class RushPlan:
    units: int
    factor: int
    lead_seconds: float = 5.0  # the pre-queue: buyers arriving before the start
    arrival_seconds: float = 2.0  # later arrivals come over this long after the start
    admit_per_second: float | None = None  # None: the room's automatic rate
    retry_share: float = 0.1
    timeout_seconds: float = 5.0

    @property
    def buyers(self) -> int:
        return self.units * self.factor


@dataclass
class Tally:
    outcomes: Counter[str] = field(default_factory=Counter)
    waits: list[float] = field(default_factory=list)  # join to admission, seconds
    buy_latencies: list[float] = field(default_factory=list)  # seconds, admitted buyers' purchases
    sold_at: list[float] = field(default_factory=list)  # perf_counter of each 201
    retries_answered: int = 0
    challenges: int = 0
    server_errors: int = 0


@dataclass(frozen=True)
class RushReport:
    plan: RushPlan
    joined: int
    admitted: int
    bought: int
    told_sold_out: int
    retries_answered: int
    server_errors: int
    challenges: int
    wait_p50: float | None
    wait_p99: float | None
    buy_p50_ms: float | None
    buy_p99_ms: float | None
    sell_out_seconds: float | None
    pre_queue_size: int  # buyers who joined before the shuffle
    pre_queue_correlation: float | None
    later_correlation: float | None
    audit: report.StockAudit
    outcomes: dict[str, int]

    def lines(self) -> list[tuple[str, str]]:
        def fmt(value: float | None, unit: str = "", digits: int = 2) -> str:
            return "n/a" if value is None else f"{value:,.{digits}f}{unit}"

        return [
            ("units / buyers", f"{self.plan.units:,} / {self.plan.buyers:,} (x{self.plan.factor})"),
            ("joined / admitted", f"{self.joined:,} / {self.admitted:,}"),
            ("bought (201)", f"{self.bought:,}"),
            ("told sold out in the queue", f"{self.told_sold_out:,}"),
            ("wait to admission p50 / p99", f"{fmt(self.wait_p50, ' s')} / {fmt(self.wait_p99, ' s')}"),
            (
                "buy once admitted p50 / p99",
                f"{fmt(self.buy_p50_ms, ' ms', 1)} / {fmt(self.buy_p99_ms, ' ms', 1)}",
            ),
            ("time to sell out (from start)", fmt(self.sell_out_seconds, " s")),
            (
                "fairness: pre-queue rank corr.",
                f"{fmt(self.pre_queue_correlation, '', 3)} over {self.pre_queue_size:,} (0: shuffled)",
            ),
            (
                "fairness: later arrivals",
                f"{fmt(self.later_correlation, '', 3)} (1: first come first served)",
            ),
            ("retries answered (same key)", f"{self.retries_answered:,}"),
            ("proof-of-work challenges", f"{self.challenges:,}"),
            ("5xx answers", f"{self.server_errors:,}"),
            ("units oversold", f"{self.audit.oversold:,}"),
            ("outcomes", ", ".join(f"{k} {v:,}" for k, v in sorted(self.outcomes.items()))),
        ]

    @property
    def holds(self) -> bool:
        return self.server_errors == 0 and self.audit.oversold == 0


async def prepare(ctx: Context, plan: RushPlan, buyer_ids: list[int]) -> tuple[int, float]:
    """The hot sale, starting ``lead_seconds`` from now: (item, its start as a perf_counter value). The
    buyers and their tokens are made before, so the pre-queue's time is all left to the buyers."""
    run_id = new_run_id()
    (operator,) = await insert_buyers(ctx, f"{run_id}-op", 1, role=Role.OPERATOR)
    async with ctx.transaction() as tx:
        event_id, item_id = await insert_sale(tx.conn, tx.now, run_id, plan.units)
        starts_at = tx.now + timedelta(seconds=plan.lead_seconds)
        await tx.conn.execute(
            sa.update(sale_events)
            .where(sale_events.c.id == event_id)
            .values(starts_at=starts_at, ends_at=starts_at + timedelta(days=7))
        )
    start = time.perf_counter() + (starts_at - ctx.clock()).total_seconds()
    await inventory.items_changed(ctx, [item_id])
    asked = rooms.RoomSettings(opens_before_seconds=3600, admit_per_second=plan.admit_per_second)
    await rooms.mark_hot(ctx, operator, item_id, asked)
    return item_id, start


async def fire(
    url: str, item_id: int, tokens: list[str], start: float, plan: RushPlan, connections: int
) -> Tally:
    tally = Tally()
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    timeout = httpx.Timeout(plan.timeout_seconds)
    chooser = random.Random(item_id)  # the same plan fires the same rush
    now = time.perf_counter()
    half = len(tokens) // 2
    arrivals = [now + chooser.uniform(0, max(0.0, start - now) * 0.8) for _ in range(half)]
    arrivals += [start + chooser.uniform(0, plan.arrival_seconds) for _ in range(len(tokens) - half)]
    retrying = set(chooser.sample(range(len(tokens)), int(len(tokens) * plan.retry_share)))
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=timeout, trust_env=False) as http:
        buyers = [
            _buyer(http, item_id, token, arrivals[n], n in retrying, f"rush-{item_id}-{n}", tally)
            for n, token in enumerate(tokens)
        ]
        await asyncio.gather(*buyers)
    return tally


async def _call(
    http: httpx.AsyncClient, tally: Tally, method: str, path: str, **kw: Any
) -> httpx.Response | None:
    for _ in range(3):  # a timed-out request is sent again, as a client would
        try:
            answer = await http.request(method, path, **kw)
        except httpx.TimeoutException:
            tally.outcomes["timeout"] += 1
            continue
        except httpx.TransportError:  # e.g. a kept-alive connection the server had just closed
            tally.outcomes["transport_error"] += 1
            continue
        if answer.status_code >= 500:
            tally.server_errors += 1
        return answer
    return None


async def _buyer(
    http: httpx.AsyncClient, item_id: int, token: str, arrival: float, retries: bool, key: str, tally: Tally
) -> None:
    await asyncio.sleep(max(0.0, arrival - time.perf_counter()))
    auth = {"Authorization": f"Bearer {token}"}
    queue = f"/api/v1/sale-items/{item_id}/queue"
    joined_at = time.perf_counter()
    answer = await _call(http, tally, "POST", queue, headers=auth)
    if answer is not None and answer.status_code == 200 and answer.json()["state"] == "challenge":
        tally.challenges += 1
        puzzle = answer.json()["challenge"]
        body = {"challenge": puzzle, "solution": solve_challenge(puzzle)}
        answer = await _call(http, tally, "POST", queue, headers=auth, json=body)
    if answer is None or answer.status_code != 200:
        tally.outcomes[f"join {answer.status_code if answer is not None else 'failed'}"] += 1
        return
    tally.outcomes["joined"] += 1
    status = answer.json()
    while status["state"] not in ("admitted", "sold_out"):
        await asyncio.sleep(min(MAX_POLL_SECONDS, float(status.get("poll_seconds") or 1.0)))
        polled = await _call(http, tally, "GET", queue, headers=auth)
        if polled is None or polled.status_code != 200:
            tally.outcomes["poll failed"] += 1
            return
        status = polled.json()
    if status["state"] == "sold_out":
        tally.outcomes["told sold out"] += 1
        return
    tally.outcomes["admitted"] += 1
    tally.waits.append(time.perf_counter() - joined_at)
    await _buy(http, status, auth, key, retries, tally)


async def _buy(
    http: httpx.AsyncClient,
    status: dict[str, Any],
    auth: dict[str, str],
    key: str,
    retries: bool,
    tally: Tally,
) -> None:
    headers = {**auth, "Idempotency-Key": key}
    body = {"quantity": 1, "admission": status["admission_token"]}
    started = time.perf_counter()
    bought = await _call(http, tally, "POST", status["buy_url"], headers=headers, json=body)
    tally.buy_latencies.append(time.perf_counter() - started)
    if bought is None:
        return
    tally.outcomes[f"buy {bought.status_code}"] += 1
    if bought.status_code == 201:
        tally.sold_at.append(time.perf_counter())
    if retries and bought.status_code == 201:  # the answer "was lost": the same request again
        again = await _call(http, tally, "POST", status["buy_url"], headers=headers, json=body)
        # The first answer again, status and body, marked as a replay.
        if (
            again is not None
            and (again.status_code, again.content) == (201, bought.content)
            and again.headers.get("idempotent-replayed") == "true"
        ):
            tally.retries_answered += 1
        elif again is not None:
            tally.outcomes[f"retry {again.status_code}"] += 1


def rank_correlation(pairs: list[tuple[int, int]]) -> float | None:
    """Spearman's rho of distinct values (ranks without ties)."""
    n = len(pairs)
    if n < 3:
        return None
    rank_a = {v: r for r, v in enumerate(sorted(a for a, _ in pairs))}
    rank_b = {v: r for r, v in enumerate(sorted(b for _, b in pairs))}
    d2 = sum((rank_a[a] - rank_b[b]) ** 2 for a, b in pairs)
    return 1 - 6 * d2 / (n * (n * n - 1))


def _pct(values: list[float], percent: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(percent / 100 * len(ordered)) - 1))]


async def summarise(ctx: Context, plan: RushPlan, item_id: int, start: float, tally: Tally) -> RushReport:
    entries = await ctx.queue_store.arrivals(item_id)
    early = [(e.arrival, e.place) for e in entries if e.in_pre_queue]
    later = [(e.arrival, e.place) for e in entries if not e.in_pre_queue]
    audit = await report.audit_sale(ctx, item_id)
    p50, p99 = _pct(tally.buy_latencies, 50), _pct(tally.buy_latencies, 99)
    return RushReport(
        plan,
        joined=tally.outcomes["joined"],
        admitted=tally.outcomes["admitted"],
        bought=tally.outcomes["buy 201"],
        told_sold_out=tally.outcomes["told sold out"],
        retries_answered=tally.retries_answered,
        server_errors=tally.server_errors,
        challenges=tally.challenges,
        wait_p50=_pct(tally.waits, 50),
        wait_p99=_pct(tally.waits, 99),
        buy_p50_ms=None if p50 is None else p50 * 1000,
        buy_p99_ms=None if p99 is None else p99 * 1000,
        sell_out_seconds=(max(tally.sold_at) - start) if len(tally.sold_at) >= plan.units else None,
        pre_queue_size=len(early),
        pre_queue_correlation=rank_correlation(early),
        later_correlation=rank_correlation(later),
        audit=audit,
        outcomes=dict(tally.outcomes),
    )


async def rush(ctx: Context, url: str, plan: RushPlan, connections: int) -> RushReport:
    """Prepare the sale, fire the rush at ``url`` and report (``ctx`` is the target's own platform)."""
    buyer_ids = await insert_buyers(ctx, new_run_id(), plan.buyers)
    tokens = await asyncio.to_thread(mint_tokens, ctx.settings, buyer_ids, 1)
    item_id, start = await prepare(ctx, plan, buyer_ids)
    tally = await fire(url, item_id, tokens, start, plan, connections)
    return await summarise(ctx, plan, item_id, start, tally)
