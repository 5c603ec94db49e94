"""The buy path (docs/architecture.md, "The buy path"): check in memory, one atomic call to the stock
engine, the order made durable by group commit, and only then the answer."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

from flashport.adapters import metrics
from flashport.adapters.db import orders_repo
from flashport.adapters.stock.interface import Placement, PlacementKind, StockEngine
from flashport.domain.errors import Conflict, InProgress, NotFound, ServiceUnavailable
from flashport.domain.limits import single_limit_refusal
from flashport.domain.orders import (
    ItemTerms,
    OrderDraft,
    RejectReason,
    SavedPurchase,
    check_idempotency_key,
    check_quantity,
    check_same_request,
    draft_order,
    sale_window_reason,
)
from flashport.services.context import Context
from flashport.services.sales.deadlines import Deadlines
from flashport.services.waiting_room import queue

REJECTIONS = {
    RejectReason.SOLD_OUT: (Conflict, "this item is sold out"),
    RejectReason.BUYER_LIMIT: (Conflict, "you already hold as many units of this item as one buyer may"),
    RejectReason.NOT_STARTED: (Conflict, "this sale has not started yet"),
    RejectReason.ENDED: (Conflict, "this sale has ended"),
    RejectReason.PAUSED: (Conflict, "this sale is paused for a moment; try again shortly"),
    RejectReason.UNKNOWN_ITEM: (NotFound, "no such sale item"),
}


@dataclass(frozen=True, slots=True)
class Purchase:
    """What :func:`buy` answers: the committed order as the purchase first answered it (a retry gets
    the same body, whatever happened to the order since: the Idempotency-Key draft standard), and
    whether this call created it (``False``: an earlier request with the same key did)."""

    order: dict[str, Any]  # the order as ``orders.lifecycle.order_view`` shows it, when it was made
    created: bool


def rejection(reason: RejectReason) -> Exception:
    cls, message = REJECTIONS[reason]
    return cls(message, code=reason.value)


async def buy(
    ctx: Context,
    buyer_id: int,
    item_id: int,
    quantity: int,
    key: str | None,
    admission: str | None = None,
    *,
    first_try: bool = True,
) -> Purchase:
    """Reserve ``quantity`` units of a sale item for a buyer and return the committed order; a repeat
    with the same ``key`` returns the order the first call made and reserves nothing (or, if that order
    is known never to have been saved, buys afresh: ``first_try`` is that second attempt's guard). A hot
    item (one with a waiting room) also needs the buyer's ``admission`` token (403 otherwise), checked
    in memory."""
    path = ctx.buy_path
    check_quantity(quantity)
    key = check_idempotency_key(key)
    known = path.recall(buyer_id, key)
    if known is not None and (again := await _again(ctx, known, buyer_id, item_id, quantity, key)):
        return again
    # One deadline for the whole purchase: a read of the hot set or the terms that had to wait for a
    # stalled database leaves the placement only what is left of it.
    deadline = ctx.settings.buy_deadline_seconds
    entered = _now()
    await queue.require_admission(ctx, buyer_id, item_id, admission, deadline)
    terms = await path.terms(item_id, deadline - (_now() - entered))
    if terms is None:
        raise rejection(RejectReason.UNKNOWN_ITEM)
    now = ctx.clock()
    reason = sale_window_reason(terms, now)
    if reason is not None:
        raise rejection(reason)
    if quantity > terms.per_buyer_limit:
        raise rejection(RejectReason.BUYER_LIMIT)
    if quantity > terms.max_units:  # the single-transaction limit, precomputed with the terms
        limit = path.single_limit
        assert limit is not None  # max_units is below the ceiling only when a limit set it
        raise single_limit_refusal(terms.sale_price_fen * quantity + limit.extras_fen, limit.limit_fen)
    if path.board.is_sold_out(item_id):
        # A retry whose first answer was lost gets its order, even in another process (rule 7): one
        # look-up of the key, still far cheaper than a reservation.
        earlier = await path.stock.order_for_key(buyer_id, item_id, key)
        if earlier is None:
            raise rejection(RejectReason.SOLD_OUT)
        if (again := await _again(ctx, earlier, buyer_id, item_id, quantity, key)) is not None:
            return again
        path.board.clear(item_id)  # that order never landed and its unit is back: judged afresh below
    draft = draft_order(terms, buyer_id, quantity, key, now, ctx.settings.payment_window)
    started = _now()
    placement = await _placed_in_time(path.stock, draft, deadline - (started - entered))
    outcome = placement.reason.value if placement.reason is not None else placement.kind.value
    metrics.observe_placement(path.stock.name, outcome, _now() - started)
    if placement.kind is PlacementKind.REJECTED:
        assert placement.reason is not None
        if placement.reason is RejectReason.SOLD_OUT:
            path.board.mark(item_id)
        raise rejection(placement.reason)
    assert placement.order_id is not None
    if placement.kind is PlacementKind.DUPLICATE:
        again = await _again(ctx, placement.saved or placement.order_id, buyer_id, item_id, quantity, key)
        if again is not None:
            return again
        if not first_try:  # undone twice within one request: let the client come back
            raise _in_progress()
        path.board.clear(item_id)  # its unit is back (the restock message may not have come yet)
        return await buy(ctx, buyer_id, item_id, quantity, key, admission, first_try=False)
    if placement.remaining == 0:
        path.board.mark(item_id)
    saved = SavedPurchase.of(draft)
    path.remember(buyer_id, key, saved)
    return Purchase(_first_answer(saved, buyer_id, terms), created=True)


async def _again(
    ctx: Context, earlier: str | SavedPurchase, buyer_id: int, item_id: int, quantity: int, key: str
) -> Purchase | None:
    """A retry's answer: from the saved purchase when this process or the stock engine has it (no
    database read: the retry costs about what a refusal does), else from the database
    (:func:`_existing`)."""
    if isinstance(earlier, str):
        return await _existing_in_time(ctx, earlier, buyer_id, item_id, quantity, key)
    check_same_request(earlier.item_id, earlier.quantity, item_id, quantity)
    terms = await ctx.buy_path.terms(earlier.item_id, ctx.settings.buy_deadline_seconds)
    if terms is None:  # the item is gone from the catalog: its order still answers, from the database
        return await _existing_in_time(ctx, earlier.order_id, buyer_id, item_id, quantity, key)
    return Purchase(_first_answer(earlier, buyer_id, terms), created=False)


async def _existing_in_time(
    ctx: Context, order_id: str, buyer_id: int, item_id: int, quantity: int, key: str
) -> Purchase | None:
    """:func:`_existing` within the buy deadline: a retry whose earlier order must be read from a
    database that does not answer (stalled, failing over) is answered 503 ``purchase_pending`` with
    ``Retry-After`` rather than left waiting. The look-up is not cancelled: it goes on without its
    caller until the database answers, so the doubt or orphan it may be settling is never cut off
    half-way (it only reads the order, and settles what any later request or the worker would)."""
    looking = asyncio.ensure_future(_existing(ctx, order_id, buyer_id, item_id, quantity, key))
    _LOOKING.add(looking)  # held until done (the loop keeps tasks weakly), caller or no caller
    looking.add_done_callback(_looked)
    try:
        return await asyncio.wait_for(asyncio.shield(looking), ctx.settings.buy_deadline_seconds)
    except TimeoutError:
        raise _pending() from None


_LOOKING: set[asyncio.Future[Purchase | None]] = set()


def _looked(looking: asyncio.Future[Purchase | None]) -> None:
    _LOOKING.discard(looking)
    if not looking.cancelled():
        looking.exception()  # retrieved: left without its caller, its answer or error has no one to hear it


async def _existing(
    ctx: Context, order_id: str, buyer_id: int, item_id: int, quantity: int, key: str
) -> Purchase | None:
    """The order an earlier request with the same key created. With Redis, that request may still be
    group-committing in this process or another, so wait briefly for its row to appear. ``None`` once
    that order is known never to have landed and its reservation is undone, so this request buys
    afresh: its saving failed while the database was down, leaving the reservation in doubt
    (``StockEngine.settle_doubt``), or its process died before saving it (an orphan, given back by
    ``StockEngine.settle_orphans`` once it is old enough). Still unknown after ``EXISTING_WAIT_POLLS``:
    409 ``idempotency_key_in_progress`` with ``Retry-After``, well before a client would give up."""
    stock = ctx.buy_path.stock
    for poll in range(EXISTING_WAIT_POLLS):
        async with ctx.read() as conn:
            order = await orders_repo.load_order(conn, order_id)
        if order is not None:
            check_same_request(order["sale_item_id"], order["quantity"], item_id, quantity)
            return Purchase(_first_answer_of(order), created=False)
        if poll % DOUBT_CHECK_EVERY == 0 and await stock.settle_doubt(order_id) is False:
            return None
        if (
            poll == 0
            and await stock.settle_orphans([item_id])
            and _order_id(await stock.order_for_key(buyer_id, item_id, key)) != order_id
        ):
            return None
        await asyncio.sleep(EXISTING_POLL_SECONDS)
    raise _in_progress()


def _order_id(earlier: str | SavedPurchase | None) -> str | None:
    return earlier.order_id if isinstance(earlier, SavedPurchase) else earlier


EXISTING_WAIT_POLLS = 20  # x EXISTING_POLL_SECONDS: two seconds at most
EXISTING_POLL_SECONDS = 0.1
DOUBT_CHECK_EVERY = 5  # polls between two looks at whether the order is in doubt (one Redis read)


async def _placed_in_time(stock: StockEngine, draft: OrderDraft, seconds: float) -> Placement:
    """The engine's placement, or 503 ``purchase_pending`` once it has taken ``seconds`` (what is left of
    the purchase's buy deadline; none left strikes at once): Redis or the database stalled, the buyer is
    told to retry with the same key rather than left waiting. The placement goes on without us
    (``abandons_safely``); the retry gets its order, is told the first is still in progress (409), or
    buys afresh if it was undone. An engine that cannot be left half-way is waited for. The deadline is
    ``asyncio.timeout``'s, on one timer per tick for all purchases in flight (``deadlines.py``): it
    strikes up to 50 ms early, never late."""
    if not stock.abandons_safely:
        return await stock.place(draft)
    task = asyncio.current_task()
    assert task is not None
    cancelling = task.cancelling()
    due = _DEADLINES.watch(task, seconds)
    try:
        return await stock.place(draft)
    except asyncio.CancelledError:
        if _DEADLINES.expired(task, cancelling):
            raise _pending() from None
        raise  # the client went away, or the server stops
    finally:
        _DEADLINES.done(task, due)


_DEADLINES = Deadlines()  # every purchase in flight in this process, one timer per tick
_now = time.perf_counter  # the purchase's own clock (a test makes its reads take time without waiting)


def _pending() -> ServiceUnavailable:
    return ServiceUnavailable(
        "the purchase is taking longer than usual to decide; retry with the same Idempotency-Key",
        code="purchase_pending",
    )


def _in_progress() -> InProgress:
    return InProgress(
        "an earlier request with this Idempotency-Key is still being processed; retry shortly",
        code="idempotency_key_in_progress",
    )


def _first_answer(saved: SavedPurchase, buyer_id: int, terms: ItemTerms) -> dict[str, Any]:
    """The order as its purchase first answered it: just made, unpaid, its goods the whole amount."""
    return _answer_view(
        saved,
        buyer_id,
        event_id=terms.event_id,
        fulfilment=terms.fulfilment.value,
        sku_id=terms.sku_id,
        title=terms.title,
    )


def _first_answer_of(order: dict[str, Any]) -> dict[str, Any]:
    """:func:`_first_answer` from the order's row and its line, which keep what it was made with."""
    [line] = order["lines"][:1]
    saved = SavedPurchase(
        order["id"],
        order["order_no"],
        order["sale_item_id"],
        order["quantity"],
        line["unit_price_fen"],
        order["created_at"],
        order["payment_deadline"],
    )
    return _answer_view(
        saved,
        order["buyer_id"],
        event_id=order["event_id"],
        fulfilment=order["fulfilment"],
        sku_id=line["sku_id"],
        title=line["title"],
    )


def _answer_view(
    saved: SavedPurchase, buyer_id: int, *, event_id: int, fulfilment: str, sku_id: int, title: str
) -> dict[str, Any]:
    from flashport.services.orders.lifecycle import order_view

    goods = saved.unit_price_fen * saved.quantity
    return order_view(
        {
            "id": saved.order_id,
            "order_no": saved.order_no,
            "buyer_id": buyer_id,
            "event_id": event_id,
            "sale_item_id": saved.item_id,
            "quantity": saved.quantity,
            "status": "pending_payment",
            "fulfilment": fulfilment,
            "goods_value_fen": goods,
            "freight_fen": 0,
            "discount_fen": 0,
            "tax_fen": 0,
            "total_fen": goods,
            "created_at": saved.created_at,
            "payment_deadline": saved.payment_deadline,
            "paid_at": None,
            "closed_at": None,
            "lines": [
                {
                    "line_no": 1,
                    "sale_item_id": saved.item_id,
                    "sku_id": sku_id,
                    "title": title,
                    "quantity": saved.quantity,
                    "unit_price_fen": saved.unit_price_fen,
                    "total_fen": goods,
                }
            ],
        }
    )
