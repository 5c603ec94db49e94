"""Orders: what a purchase creates, its payment window, and the moves it may make.

pending_payment ──pay──▶ paid
      │ ╲
      │  ╲──deadline passes──▶ expired      (units return to the sale, exactly once)
      ╰──buyer cancels──▶ cancelled         (units return to the sale, exactly once)
"""

from __future__ import annotations

import enum
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from flashport.domain.errors import Conflict, FieldProblem, InvalidInput

MAX_UNITS_PER_ORDER = 99  # customs allows 99 lines; one line, and no sane flash-sale buyer wants more


class OrderStatus(enum.StrEnum):
    PENDING_PAYMENT = "pending_payment"
    PAID = "paid"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    # A basket's holding order folded into its checked-out order (``merged_into``): its units were not
    # returned, they are that order's now (docs/basket.md).
    MERGED = "merged"


LIVE_STATUSES = (OrderStatus.PENDING_PAYMENT, OrderStatus.PAID)  # their units count as taken


class Fulfilment(enum.StrEnum):
    BONDED = "bonded"  # from a bonded warehouse in China (trade mode 1210)
    DIRECT = "direct"  # direct mail from abroad (trade mode 9610)


@dataclass(frozen=True)
class ItemTerms:
    """What the buy path needs to know about a sale item; cached by each API process."""

    item_id: int
    event_id: int
    sku_id: int
    title: str
    sale_price_fen: int
    quantity: int
    per_buyer_limit: int
    starts_at: datetime
    ends_at: datetime
    open: bool  # the event is scheduled (not draft, not cancelled)
    fulfilment: Fulfilment
    paused: bool = False  # an operator paused the item or its event (the console's controls)
    # Most units one order may hold within the single-transaction limit (at least 1: a single item
    # above it goes as general trade). Set by the buy path when it caches the terms.
    max_units: int = MAX_UNITS_PER_ORDER


class RejectReason(enum.StrEnum):
    """Why the stock engine refused a reservation; each maps to one API error."""

    SOLD_OUT = "sold_out"
    BUYER_LIMIT = "buyer_limit_reached"
    NOT_STARTED = "sale_not_started"
    ENDED = "sale_ended"
    PAUSED = "sale_paused"
    UNKNOWN_ITEM = "sale_item_not_found"


@dataclass(frozen=True)
class OrderDraft:
    """An order decided in memory, before the stock engine and the database accept it."""

    id: str
    order_no: str
    buyer_id: int
    idempotency_key: str
    terms: ItemTerms
    quantity: int
    created_at: datetime
    payment_deadline: datetime

    @property
    def goods_value_fen(self) -> int:
        return self.terms.sale_price_fen * self.quantity

    @property
    def total_fen(self) -> int:
        # Freight is free by default and tax is added at checkout (the compliance issue); until then the
        # amount payable is the goods value.
        return self.goods_value_fen


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class SavedPurchase:
    """What a purchase's first answer is made of besides the item's terms: kept in memory by the process
    that answered and, once the order is saved, under its idempotency key in the stock engine, so that
    a retry gets the same answer again without reading the database (Idempotency-Key draft standard)."""

    order_id: str
    order_no: str
    item_id: int
    quantity: int
    unit_price_fen: int
    created_at: datetime
    payment_deadline: datetime

    @classmethod
    def of(cls, draft: OrderDraft) -> SavedPurchase:
        return cls(
            draft.id,
            draft.order_no,
            draft.terms.item_id,
            draft.quantity,
            draft.terms.sale_price_fen,
            draft.created_at,
            draft.payment_deadline,
        )

    def encode(self) -> str:
        """``id|order no|item|quantity|unit price|created µs|deadline µs``: about 90 bytes."""
        created = (self.created_at - _EPOCH) // _MICROSECOND
        deadline = (self.payment_deadline - _EPOCH) // _MICROSECOND
        return (
            f"{self.order_id}|{self.order_no}|{self.item_id}|{self.quantity}|{self.unit_price_fen}"
            f"|{created}|{deadline}"
        )

    @classmethod
    def decode(cls, text: str) -> SavedPurchase | None:
        """The purchase :meth:`encode` wrote, or None for anything else (a bare order id: an order not
        known to be saved yet)."""
        parts = text.split("|")
        if len(parts) != 7:
            return None
        order_id, order_no, item, quantity, price, created, deadline = parts
        return cls(
            order_id,
            order_no,
            int(item),
            int(quantity),
            int(price),
            _EPOCH + int(created) * _MICROSECOND,
            _EPOCH + int(deadline) * _MICROSECOND,
        )


def check_quantity(quantity: int) -> None:
    if not 1 <= quantity <= MAX_UNITS_PER_ORDER:
        raise InvalidInput(
            f"quantity must be between 1 and {MAX_UNITS_PER_ORDER}",
            code="invalid_quantity",
            details=[FieldProblem("quantity", "a whole number of units, at least 1")],
        )


def check_idempotency_key(key: str | None) -> str:
    if key is None or not key.strip():
        raise InvalidInput(
            "an Idempotency-Key header is required so that a retry never buys twice",
            code="idempotency_key_required",
            details=[FieldProblem("Idempotency-Key", "a unique string per purchase, e.g. a UUID")],
        )
    key = key.strip()
    if len(key) > 128:
        raise InvalidInput("Idempotency-Key is longer than 128 characters", code="invalid_idempotency_key")
    return key


def sale_window_reason(terms: ItemTerms, now: datetime) -> RejectReason | None:
    """Rule 4 as the buy path sees it (the stock engine checks it again atomically)."""
    if not terms.open:
        return RejectReason.ENDED if now >= terms.starts_at else RejectReason.NOT_STARTED
    if now < terms.starts_at:
        return RejectReason.NOT_STARTED
    if now >= terms.ends_at:
        return RejectReason.ENDED
    if terms.paused:
        return RejectReason.PAUSED
    return None


def new_order_no(now: datetime) -> str:
    """``FP`` + UTC date and time to the second + 12 random hex digits: unique without coordination
    between API processes, sortable by time, and short enough for the customs orderNo field (≤ 60).
    48 random bits: even 10,000 orders in one second collide about once in five million seconds (with
    32 bits, a 600,000-unit sale had a fair chance of one collision, and a group commit fails on it)."""
    global _stamp
    second = now.replace(microsecond=0)
    if _stamp[0] != second or _stamp[0].tzinfo is not now.tzinfo:  # strftime once a second, not per order
        _stamp = (second, f"FP{now:%Y%m%d%H%M%S}")
    return f"{_stamp[1]}{secrets.token_hex(6).upper()}"


_stamp: tuple[datetime, str] = (datetime.min, "")


def draft_order(
    terms: ItemTerms, buyer_id: int, quantity: int, key: str, now: datetime, window: timedelta
) -> OrderDraft:
    return OrderDraft(
        id=str(uuid.uuid4()),
        order_no=new_order_no(now),
        buyer_id=buyer_id,
        idempotency_key=key,
        terms=terms,
        quantity=quantity,
        created_at=now,
        payment_deadline=now + window,
    )


def check_cancellable_by_buyer(status: OrderStatus) -> None:
    if status is not OrderStatus.PENDING_PAYMENT:
        raise Conflict(f"a {status.value} order cannot be cancelled", code="order_not_cancellable")


def check_same_request(existing_item_id: int, existing_quantity: int, item_id: int, quantity: int) -> None:
    """An idempotency key names one purchase; reusing it for another one is a client bug."""
    if existing_item_id != item_id or existing_quantity != quantity:
        raise InvalidInput(
            "this Idempotency-Key was already used for a different purchase",
            code="idempotency_key_reused",
            details=[FieldProblem("Idempotency-Key", "use a new key for a new purchase")],
        )
