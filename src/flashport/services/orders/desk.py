"""The console's order desk (customer service and operators): find an order by its number, its buyer
(e-mail or account number) or a phone; read one order's whole story, from purchase to refund, with
every outbox event written about it and every staff action taken on it; list refunds by state.

Read only: refunds are given by :mod:`flashport.services.payments.staff_refunds`. ID numbers never
appear here, only their masked forms, as on the payments pages."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flashport.adapters.db import desk_repo
from flashport.domain.errors import InvalidInput, NotFound
from flashport.domain.money import format_fen
from flashport.domain.text import forbidden_character
from flashport.services.context import Context
from flashport.services.payments.views import PaymentView, RefundView, payment_of, refund_of

MAX_QUERY = 320  # the longest e-mail address
STORY_EVENTS = 500


@dataclass(frozen=True, slots=True)
class OrderFound:
    order_no: str
    status: str
    created_at: datetime
    buyer_id: int
    buyer_email: str | None
    total: str
    consignee_name: str | None
    consignee_phone: str | None
    buyer_phone: str | None


@dataclass(frozen=True, slots=True)
class StoryLine:
    title: str
    quantity: int
    unit_price: str
    total: str


@dataclass(frozen=True, slots=True)
class StoryEvent:
    id: int
    type: str
    at: datetime
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class StaffAction:
    at: datetime
    staff_id: int
    action: str
    details: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Shipment:
    """The customs declaration and the parcel, as far as they went."""

    state: str
    logistics_no: str | None
    logistics_name: str | None
    invt_no: str | None
    released_at: datetime | None
    shipped_at: datetime | None
    reason: str | None
    attention_reason: str | None


@dataclass(frozen=True, slots=True)
class OrderStory:
    order_no: str
    status: str
    event_title: str | None
    buyer_id: int
    buyer_email: str | None
    buyer_name: str | None  # the real-name identity chosen at checkout
    buyer_phone: str | None
    consignee: tuple[str | None, str | None, str | None]  # name, phone, address
    fulfilment: str
    goods_value: str
    freight: str
    tax: str
    total: str
    created_at: datetime
    payment_deadline: datetime
    paid_at: datetime | None
    closed_at: datetime | None
    lines: tuple[StoryLine, ...]
    payments: tuple[PaymentView, ...]
    refunds: tuple[RefundView, ...]
    shipment: Shipment | None
    events: tuple[StoryEvent, ...]
    staff_actions: tuple[StaffAction, ...]

    @property
    def refundable(self) -> bool:
        """Paid, and no refund of it yet (a trade's money goes back once)."""
        return any(p.status == "succeeded" for p in self.payments) and not self.refunds


def check_query(text: str) -> str:
    cleaned = text.strip()
    if not cleaned:
        raise InvalidInput(
            "type an order number, a buyer's e-mail or account number, or a phone", code="empty_query"
        )
    if len(cleaned) > MAX_QUERY or forbidden_character(cleaned) is not None:
        raise InvalidInput(
            f"a search has at most {MAX_QUERY} characters on one line",
            code="invalid_query",
            facts={"max": MAX_QUERY},
        )
    return cleaned


async def find_orders(ctx: Context, text: str, *, limit: int = 50) -> list[OrderFound]:
    query = check_query(text)
    async with ctx.read() as conn:
        rows = await desk_repo.search(conn, query, limit)
    return [
        OrderFound(
            order_no=r.order_no,
            status=r.status,
            created_at=r.created_at,
            buyer_id=int(r.buyer_id),
            buyer_email=r.buyer_email,
            total=format_fen(r.total_fen),
            consignee_name=r.consignee_name,
            consignee_phone=r.consignee_phone,
            buyer_phone=r.buyer_phone,
        )
        for r in rows
    ]


async def order_story(ctx: Context, order_no: str) -> OrderStory:
    async with ctx.read() as conn:
        row = await desk_repo.order(conn, order_no)
        if row is None:
            raise NotFound(f"there is no order {order_no[:32]}", code="order_not_found")
        lines = await desk_repo.lines(conn, row.id)
        paid = await desk_repo.payments_of(conn, row.id)
        refund_rows = await desk_repo.refunds_of(conn, [p.id for p in paid])
        declared = await desk_repo.declaration(conn, order_no)
        events = await desk_repo.events(conn, f"order:{order_no}", STORY_EVENTS)
        actions = await desk_repo.audit_of(conn, f"order:{order_no}")
    return _story(row, lines, paid, refund_rows, declared, events, actions)


def _story(
    row: Any,
    lines: list[Any],
    paid: list[Any],
    refund_rows: list[Any],
    declared: Any,
    events: list[Any],
    actions: list[Any],
) -> OrderStory:
    return OrderStory(
        order_no=row.order_no,
        status=row.status,
        event_title=row.event_title,
        buyer_id=int(row.buyer_id),
        buyer_email=row.buyer_email,
        buyer_name=row.buyer_name,
        buyer_phone=row.buyer_phone,
        consignee=(row.consignee_name, row.consignee_phone, row.consignee_address),
        fulfilment=row.fulfilment,
        goods_value=format_fen(row.goods_value_fen),
        freight=format_fen(row.freight_fen),
        tax=format_fen(row.tax_fen),
        total=format_fen(row.total_fen),
        created_at=row.created_at,
        payment_deadline=row.payment_deadline,
        paid_at=row.paid_at,
        closed_at=row.closed_at,
        lines=tuple(
            StoryLine(x.title, x.quantity, format_fen(x.unit_price_fen), format_fen(x.total_fen))
            for x in lines
        ),
        payments=tuple(payment_of(p._mapping) for p in paid),
        refunds=tuple(refund_of(r._mapping) for r in refund_rows),
        shipment=_shipment(declared),
        events=tuple(StoryEvent(int(e.id), e.type, e.occurred_at, dict(e.payload)) for e in events),
        staff_actions=tuple(
            StaffAction(a.at, int(a.operator_id), a.action, dict(a.details)) for a in actions
        ),
    )


def _shipment(row: Any) -> Shipment | None:
    if row is None:
        return None
    return Shipment(
        state=row.state,
        logistics_no=row.logistics_no,
        logistics_name=row.logistics_name,
        invt_no=row.invt_no,
        released_at=row.released_at,
        shipped_at=row.shipped_at,
        reason=row.reason,
        attention_reason=row.attention_reason,
    )


@dataclass(frozen=True, slots=True)
class RefundListed:
    order_no: str
    refund: RefundView
    note: str | None
    requested_by: int | None


REFUND_STATES = ("pending", "succeeded")


async def list_refunds(
    ctx: Context, *, status: str | None = None, before_id: int | None = None, limit: int = 50
) -> list[RefundListed]:
    if status is not None and status not in REFUND_STATES:
        raise InvalidInput(
            f"a refund is {' or '.join(REFUND_STATES)}", code="invalid_state", facts={"value": status[:20]}
        )
    async with ctx.read() as conn:
        rows = await desk_repo.refunds_listed(conn, status=status, before_id=before_id, limit=limit)
    return [RefundListed(r.order_no, refund_of(r._mapping), r.note, r.requested_by) for r in rows]
