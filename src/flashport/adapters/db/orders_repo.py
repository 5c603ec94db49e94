"""SQL for orders: inserting drafts in bulk, finding them, reading the buy path's item terms, and the
statements of their life after the buy (checkout, paying, closing, releasing).

Every function takes the caller's connection: the service owns the transaction, and a function whose
name says ``lock`` must be called inside one."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from flashport.adapters.db import console_repo, tallies_repo
from flashport.adapters.db.schema import (
    declarations,
    order_lines,
    orders,
    outbox,
    products,
    sale_events,
    sale_items,
    skus,
    users,
    warehouses,
)
from flashport.domain.basket import FoldedLine
from flashport.domain.identity import Consignee
from flashport.domain.money import format_fen
from flashport.domain.orders import Fulfilment, ItemTerms, OrderDraft, OrderStatus
from flashport.domain.tax import Assessment


def _order_row(d: OrderDraft) -> dict[str, Any]:
    return {
        "id": d.id,
        "order_no": d.order_no,
        "buyer_id": d.buyer_id,
        "event_id": d.terms.event_id,
        "sale_item_id": d.terms.item_id,
        "quantity": d.quantity,
        "status": OrderStatus.PENDING_PAYMENT.value,
        "fulfilment": d.terms.fulfilment.value,
        "goods_value_fen": d.goods_value_fen,
        "freight_fen": 0,
        "discount_fen": 0,
        "tax_fen": 0,
        "total_fen": d.total_fen,
        "idempotency_key": d.idempotency_key,
        "created_at": d.created_at,
        "payment_deadline": d.payment_deadline,
    }


def _line_row(d: OrderDraft) -> dict[str, Any]:
    return {
        "order_id": d.id,
        "line_no": 1,
        "sale_item_id": d.terms.item_id,
        "sku_id": d.terms.sku_id,
        "title": d.terms.title,
        "quantity": d.quantity,
        "unit_price_fen": d.terms.sale_price_fen,
        "total_fen": d.goods_value_fen,
    }


def _event_row(d: OrderDraft) -> dict[str, Any]:
    return {
        "type": "order.created",
        "subject": f"order:{d.order_no}",
        "occurred_at": d.created_at,
        "payload": {
            "order_id": d.id,
            "order_no": d.order_no,
            "buyer_id": d.buyer_id,
            "event_id": d.terms.event_id,
            "sale_item_id": d.terms.item_id,
            "sku_id": d.terms.sku_id,
            "quantity": d.quantity,
            "total": format_fen(d.total_fen),
            "payment_deadline": d.payment_deadline.isoformat(),
        },
    }


async def insert_drafts(conn: AsyncConnection, drafts: Sequence[OrderDraft]) -> None:
    """Three multi-row INSERTs for the whole batch: orders, their lines, their outbox events."""
    if not drafts:
        return
    await conn.execute(orders.insert(), [_order_row(d) for d in drafts])
    await conn.execute(order_lines.insert(), [_line_row(d) for d in drafts])
    await conn.execute(outbox.insert(), [_event_row(d) for d in drafts])


@dataclass(frozen=True)
class FoldedOrder:
    """A checked-out basket's order as it is first written: pending payment, before its own checkout
    (consignee, identity, tax), with the basket's hold as its deadline."""

    id: str
    order_no: str
    buyer_id: int
    fulfilment: str
    lines: Sequence[FoldedLine]
    created_at: datetime
    payment_deadline: datetime

    @property
    def goods_value_fen(self) -> int:
        return sum(line.total_fen for line in self.lines)

    @property
    def units(self) -> int:
        return sum(line.quantity for line in self.lines)


async def insert_folded(conn: AsyncConnection, order: FoldedOrder) -> None:
    """The order and its lines (two statements). Its ``sale_item_id`` and ``event_id`` are its first
    line's, its ``quantity`` all its units; ``line_count`` tells readers that move units to read the
    lines. Its idempotency key is its own id, which no client can have sent: the buyer's key for the
    checkout is kept in ``basket_checkouts``."""
    first = order.lines[0]
    await conn.execute(
        orders.insert().values(
            id=order.id,
            order_no=order.order_no,
            buyer_id=order.buyer_id,
            event_id=first.event_id,
            sale_item_id=first.item_id,
            quantity=order.units,
            line_count=len(order.lines),
            status=OrderStatus.PENDING_PAYMENT.value,
            fulfilment=order.fulfilment,
            goods_value_fen=order.goods_value_fen,
            total_fen=order.goods_value_fen,
            idempotency_key=f"basket-checkout:{order.id}",
            created_at=order.created_at,
            payment_deadline=order.payment_deadline,
        )
    )
    await conn.execute(
        order_lines.insert(),
        [
            {
                "order_id": order.id,
                "line_no": line.line_no,
                "sale_item_id": line.item_id,
                "sku_id": line.sku_id,
                "title": line.title,
                "quantity": line.quantity,
                "unit_price_fen": line.unit_price_fen,
                "total_fen": line.total_fen,
            }
            for line in order.lines
        ],
    )


async def find_by_key(conn: AsyncConnection, buyer_id: int, key: str) -> Any:
    query = sa.select(orders.c.id, orders.c.sale_item_id, orders.c.quantity).where(
        orders.c.buyer_id == buyer_id, orders.c.idempotency_key == key
    )
    return (await conn.execute(query)).first()


async def load_order(conn: AsyncConnection, order_id: str) -> dict[str, Any] | None:
    row = (await conn.execute(sa.select(orders).where(orders.c.id == order_id))).first()
    if row is None:
        return None
    order = dict(row._mapping)
    lines = await conn.execute(
        sa.select(order_lines).where(order_lines.c.order_id == order_id).order_by(order_lines.c.line_no)
    )
    order["lines"] = [dict(r._mapping) for r in lines]
    return order


async def load_terms(conn: AsyncConnection, item_id: int) -> ItemTerms | None:
    query = (
        sa.select(
            sale_items.c.id,
            sale_items.c.event_id,
            sale_items.c.sku_id,
            sale_items.c.sale_price_fen,
            sale_items.c.quantity,
            sale_items.c.per_buyer_limit,
            sale_events.c.starts_at,
            sale_events.c.ends_at,
            sale_events.c.state,
            products.c.title.label("product_title"),
            skus.c.title.label("sku_title"),
            warehouses.c.kind,
            console_repo.paused_clause(sale_items.c.id, sale_items.c.event_id).label("paused"),
        )
        .join(sale_events, sale_events.c.id == sale_items.c.event_id)
        .join(skus, skus.c.id == sale_items.c.sku_id)
        .join(products, products.c.id == skus.c.product_id)
        .join(warehouses, warehouses.c.id == sale_items.c.warehouse_id)
        .where(sale_items.c.id == item_id)
    )
    row = (await conn.execute(query)).first()
    if row is None:
        return None
    title = (
        row.sku_title
        if row.sku_title.startswith(row.product_title)  # the SKU's title already names the product
        else f"{row.product_title} {row.sku_title}".strip()
    )
    return ItemTerms(
        item_id=row.id,
        event_id=row.event_id,
        sku_id=row.sku_id,
        title=title[:300],
        sale_price_fen=row.sale_price_fen,
        quantity=row.quantity,
        per_buyer_limit=row.per_buyer_limit,
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        open=row.state == "scheduled",
        fulfilment=Fulfilment.BONDED if row.kind == "bonded" else Fulfilment.DIRECT,
        paused=bool(row.paused),
    )


async def taken_truth(
    conn: AsyncConnection, item_ids: Sequence[int]
) -> dict[int, tuple[int, dict[int, int]]]:
    """The database truth of the counters: units in live orders, plus units of closed orders whose
    release has not reached the stock engine yet (they are still counted there)."""
    # A merged order (a basket's unit folded into a checked-out order) holds nothing: its unit is
    # counted once, on the line of the order it was folded into.
    still_held = sa.or_(
        orders.c.status.in_([OrderStatus.PENDING_PAYMENT.value, OrderStatus.PAID.value]),
        sa.and_(
            orders.c.status.in_([OrderStatus.EXPIRED.value, OrderStatus.CANCELLED.value]),
            orders.c.stock_released_at.is_(None),
        ),
    )
    single = (
        sa.select(orders.c.sale_item_id, orders.c.buyer_id, sa.func.sum(orders.c.quantity))
        .where(orders.c.sale_item_id.in_(item_ids), orders.c.line_count == 1, still_held)
        .group_by(orders.c.sale_item_id, orders.c.buyer_id)
    )
    lined = (
        sa.select(order_lines.c.sale_item_id, orders.c.buyer_id, sa.func.sum(order_lines.c.quantity))
        .join(orders, orders.c.id == order_lines.c.order_id)
        .where(order_lines.c.sale_item_id.in_(item_ids), orders.c.line_count > 1, still_held)
        .group_by(order_lines.c.sale_item_id, orders.c.buyer_id)
    )
    truth: dict[int, tuple[int, dict[int, int]]] = {i: (0, {}) for i in item_ids}
    for query in (single, lined):
        for item_id, buyer_id, units in await conn.execute(query):
            total, buyers = truth[item_id]
            buyers[buyer_id] = buyers.get(buyer_id, 0) + int(units)
            truth[item_id] = (total + int(units), buyers)
    return truth


async def idempotency_records(
    conn: AsyncConnection, item_id: int, since: datetime
) -> list[tuple[int, str, str, datetime]]:
    """(buyer, idempotency key, order id, created at) of the item's orders made since ``since``: what a
    stock engine that lost its keys rebuilds them from, so a retry still finds its first order."""
    query = sa.select(orders.c.buyer_id, orders.c.idempotency_key, orders.c.id, orders.c.created_at).where(
        orders.c.sale_item_id == item_id, orders.c.created_at >= since
    )
    return [(int(b), str(k), str(o), c) for b, k, o, c in await conn.execute(query)]


# --- reading a buyer's orders ----------------------------------------------------------------------------


async def id_for_buyer(
    conn: AsyncConnection, buyer_id: int, order_no: str, *, checked_out: bool = False
) -> str | None:
    """The id of the buyer's order ``order_no`` (only once checked out, if ``checked_out``); None for
    another buyer's order as for a missing one."""
    query = sa.select(orders.c.id).where(orders.c.order_no == order_no, orders.c.buyer_id == buyer_id)
    if checked_out:
        query = query.where(orders.c.checked_out_at.is_not(None))
    found = await conn.scalar(query)
    return None if found is None else str(found)


async def ids_of_buyer(conn: AsyncConnection, buyer_id: int, limit: int) -> list[str]:
    """The buyer's newest ``limit`` order ids, newest first."""
    query = (
        sa.select(orders.c.id)
        # A merged order lives on as a line of its checked-out order: shown there, not on its own.
        .where(orders.c.buyer_id == buyer_id, orders.c.status != OrderStatus.MERGED.value)
        .order_by(orders.c.created_at.desc())
        .limit(limit)
    )
    return list((await conn.scalars(query)).all())


@dataclass(frozen=True)
class CustomsState:
    state: str
    reason_code: str | None  # why customs (or a partner's check) rejected it, if it did


async def customs_states(conn: AsyncConnection, order_ids: Sequence[str]) -> dict[str, CustomsState]:
    """Per order that has a declaration (paid ones): the declaration's state and rejection reason."""
    if not order_ids:
        return {}
    query = sa.select(declarations.c.order_id, declarations.c.state, declarations.c.reason_code).where(
        declarations.c.order_id.in_(order_ids)
    )
    return {order_id: CustomsState(state, reason) for order_id, state, reason in await conn.execute(query)}


async def status_for_buyer(conn: AsyncConnection, buyer_id: int, order_no: str) -> tuple[str, str] | None:
    """(id, status) of the buyer's order ``order_no``; None for another buyer's order or none."""
    query = sa.select(orders.c.id, orders.c.status).where(
        orders.c.order_no == order_no, orders.c.buyer_id == buyer_id
    )
    row = (await conn.execute(query)).first()
    return None if row is None else (row.id, row.status)


async def status_of(conn: AsyncConnection, order_id: str) -> str | None:
    return await conn.scalar(sa.select(orders.c.status).where(orders.c.id == order_id))


async def row_for_buyer(conn: AsyncConnection, buyer_id: int, order_no: str) -> Any:
    """The buyer's whole order row (no lines), unlocked; None for another buyer's order or none."""
    query = sa.select(orders).where(orders.c.order_no == order_no, orders.c.buyer_id == buyer_id)
    return (await conn.execute(query)).first()


# --- closing unpaid orders (rule 5) -------------------------------------------------------------------------

CLOSED_COLUMNS = (
    orders.c.id,
    orders.c.order_no,
    orders.c.sale_item_id,
    orders.c.buyer_id,
    orders.c.quantity,
    orders.c.event_id,
    orders.c.line_count,
)


async def per_line(conn: AsyncConnection, rows: Sequence[Any]) -> list[dict[str, Any]]:
    """Orders as the stock engines and the tallies take them: one mapping per item of the order, with
    that item's ``sale_item_id`` and ``quantity`` (and the order's other columns among those given).
    An order of one line (``line_count`` 1 or absent: every order of the buy path) is its own row,
    with no query; the lines of the others (checked-out baskets) are read in one query.

    Lines of one item (a basket splits an item's units by price, should a price ever differ) are summed
    into one mapping, so that a per-item marker of an order (the Redis engine's release marker) stands
    for all of that order's units of the item, and no unit is skipped or returned twice."""
    single: list[dict[str, Any]] = []
    several: dict[str, dict[str, Any]] = {}
    for row in rows:
        mapping = dict(row._mapping) if hasattr(row, "_mapping") else dict(row)
        if int(mapping.get("line_count") or 1) > 1:
            several[mapping["id"]] = mapping
        else:
            single.append(mapping)
    if not several:
        return single
    query = (
        sa.select(order_lines.c.order_id, order_lines.c.sale_item_id, order_lines.c.quantity)
        .where(order_lines.c.order_id.in_(list(several)))
        .order_by(order_lines.c.order_id, order_lines.c.line_no)
    )
    per_item: dict[tuple[str, int], int] = {}
    for order_id, item_id, quantity in await conn.execute(query):
        per_item[(order_id, item_id)] = per_item.get((order_id, item_id), 0) + int(quantity)
    for (order_id, item_id), quantity in per_item.items():
        single.append({**several[order_id], "sale_item_id": item_id, "quantity": quantity})
    return single


async def close_pending(
    conn: AsyncConnection,
    order_ids: Sequence[str],
    to: OrderStatus,
    now: datetime,
    *,
    buyer_id: int | None = None,
) -> list[dict[str, Any]]:
    """Move those of ``order_ids`` (of ``buyer_id``, if given) still pending payment to ``to``, in one
    conditional UPDATE; returns the moved rows (:data:`CLOSED_COLUMNS`). The ``status`` condition
    decides races: of any number of transactions closing one order, exactly one gets its row back.
    An order of several lines comes back as one row per line (:func:`per_line`)."""
    where: list[sa.ColumnElement[bool]] = [orders.c.id.in_(order_ids)]
    if buyer_id is not None:
        where.append(orders.c.buyer_id == buyer_id)
    moved = await conn.execute(
        orders.update()
        .where(*where, orders.c.status == OrderStatus.PENDING_PAYMENT.value)
        .values(status=to.value, closed_at=now)
        .returning(*CLOSED_COLUMNS)
    )
    rows = await per_line(conn, moved.all())
    await tallies_repo.add_closed(conn, rows)
    return rows


async def mark_released(conn: AsyncConnection, order_ids: Sequence[str], now: datetime) -> None:
    """Record that the stock engine has the units of these closed orders back."""
    await conn.execute(orders.update().where(orders.c.id.in_(order_ids)).values(stock_released_at=now))


async def lock_due_for_expiry(conn: AsyncConnection, now: datetime, limit: int) -> list[str]:
    """Inside a transaction: lock up to ``limit`` pending orders past their deadline, oldest deadline
    first, skipping those another transaction holds (a sweeper, a settlement); their ids.

    A statement of its own, not a subquery of the closing UPDATE: PostgreSQL may evaluate such a
    subquery more than once, and in our tests it then moved more than ``limit`` orders at once."""
    query = (
        sa.select(orders.c.id)
        .where(orders.c.status == OrderStatus.PENDING_PAYMENT.value, orders.c.payment_deadline <= now)
        .order_by(orders.c.payment_deadline)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list((await conn.scalars(query)).all())


async def closed_unreleased(conn: AsyncConnection, limit: int) -> list[dict[str, Any]]:
    """Up to ``limit`` expired or cancelled orders whose units have not reached the stock engine yet,
    as the engine's release takes them (id, sale_item_id, buyer_id, quantity), one per line."""
    query = (
        sa.select(
            orders.c.id, orders.c.sale_item_id, orders.c.buyer_id, orders.c.quantity, orders.c.line_count
        )
        .where(
            orders.c.status.in_([OrderStatus.EXPIRED.value, OrderStatus.CANCELLED.value]),
            orders.c.stock_released_at.is_(None),
        )
        .limit(limit)
    )
    return await per_line(conn, (await conn.execute(query)).all())


async def pending_of_event(conn: AsyncConnection, event_id: int) -> list[str]:
    """The unpaid orders with units of the event: its own, and checked-out baskets with a line of it
    (a basket may hold items of several live sales of one warehouse)."""
    pending = orders.c.status == OrderStatus.PENDING_PAYMENT.value
    own = sa.select(orders.c.id).where(orders.c.event_id == event_id, pending)
    lined = (
        sa.select(orders.c.id)
        .join(order_lines, order_lines.c.order_id == orders.c.id)
        .join(sale_items, sale_items.c.id == order_lines.c.sale_item_id)
        .where(pending, orders.c.line_count > 1, sale_items.c.event_id == event_id)
    )
    return list(dict.fromkeys((await conn.scalars(sa.union(own, lined))).all()))


# --- checkout -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeclaredBuyer:
    """The identity an order is bought as, as stored on the order at checkout."""

    name: str
    id_cipher: str
    id_masked: str
    id_hash: str


async def lock_for_buyer(conn: AsyncConnection, buyer_id: int, order_no: str) -> Any:
    """Inside a transaction: the buyer's whole order row, locked (``FOR UPDATE``) against a payment
    starting meanwhile; None for another buyer's order or none."""
    query = (
        sa.select(orders)
        .where(orders.c.order_no == order_no, orders.c.buyer_id == buyer_id)
        .with_for_update()
    )
    return (await conn.execute(query)).first()


async def taxable_lines(conn: AsyncConnection, order_id: str) -> list[Any]:
    """The order's lines with what classifies them for tax: line_no, quantity, total_fen, tax_category,
    hs_code, net_content, net_content_unit."""
    query = (
        sa.select(
            order_lines.c.line_no,
            order_lines.c.quantity,
            order_lines.c.total_fen,
            products.c.tax_category,
            products.c.hs_code,
            skus.c.net_content,
            skus.c.net_content_unit,
        )
        .join(skus, skus.c.id == order_lines.c.sku_id)
        .join(products, products.c.id == skus.c.product_id)
        .where(order_lines.c.order_id == order_id)
        .order_by(order_lines.c.line_no)
    )
    return list((await conn.execute(query)).all())


async def record_buyer_phone(conn: AsyncConnection, order_id: str, phone: str) -> None:
    """The buyer's own phone, declared as buyerTelephone (set at checkout, beside the buyer)."""
    await conn.execute(orders.update().where(orders.c.id == order_id).values(buyer_phone=phone))


async def record_checkout(
    conn: AsyncConnection,
    order_id: str,
    consignee: Consignee,
    buyer: DeclaredBuyer,
    assessment: Assessment,
    now: datetime,
) -> None:
    """Store a checkout on the order and its lines: the consignee, the buyer, the amounts and each
    line's taxes (one UPDATE for the order, one per line)."""
    await conn.execute(
        orders.update()
        .where(orders.c.id == order_id)
        .values(
            consignee_name=consignee.name,
            consignee_phone=consignee.phone,
            consignee_address=consignee.address,
            consignee_district=consignee.district,
            buyer_name=buyer.name,
            buyer_id_cipher=buyer.id_cipher,
            buyer_id_masked=buyer.id_masked,
            buyer_id_hash=buyer.id_hash,
            freight_fen=assessment.freight_fen,
            tax_fen=assessment.tax_fen,
            total_fen=assessment.total_fen,
            tax_regime=assessment.regime.value,
            checked_out_at=now,
        )
    )
    for line in assessment.lines:
        await conn.execute(
            order_lines.update()
            .where(order_lines.c.order_id == order_id, order_lines.c.line_no == line.line_no)
            .values(
                tax_category=line.category,
                tax_base_fen=line.base_fen,
                tariff_fen=line.tariff_fen,
                consumption_tax_fen=line.consumption_tax_fen,
                vat_fen=line.vat_fen,
            )
        )


# --- paying ---------------------------------------------------------------------------------------------


async def lock(conn: AsyncConnection, order_id: str) -> Any:
    """Inside a transaction: the whole order row, locked (``FOR UPDATE``). The order must exist."""
    return (await conn.execute(sa.select(orders).where(orders.c.id == order_id).with_for_update())).one()


async def mark_paid(conn: AsyncConnection, order_id: str, paid_at: datetime) -> bool:
    """Move the order from pending payment to paid; False when it was not pending."""
    moved = await conn.execute(
        orders.update()
        .where(orders.c.id == order_id, orders.c.status == OrderStatus.PENDING_PAYMENT.value)
        .values(status=OrderStatus.PAID.value, paid_at=paid_at)
    )
    if moved.rowcount == 1:
        await tallies_repo.add_paid(conn, [order_id])
    return moved.rowcount == 1


# The references of the hot tables. They have no foreign keys (migration 0007): the write path takes these
# ids from rows it has just read or from a verified token, and ``flashport reconcile`` checks them here.
_ORDER_KEY = (orders.c.id,)
_LINE_KEY = (order_lines.c.order_id, order_lines.c.line_no)
_REFERENCES: tuple[tuple[str, tuple[sa.Column[Any], ...], sa.Column[Any], sa.Table], ...] = (
    ("orders whose buyer does not exist", _ORDER_KEY, orders.c.buyer_id, users),
    ("orders whose sale event does not exist", _ORDER_KEY, orders.c.event_id, sale_events),
    ("orders whose sale item does not exist", _ORDER_KEY, orders.c.sale_item_id, sale_items),
    ("order lines whose order does not exist", _LINE_KEY, order_lines.c.order_id, orders),
    ("order lines whose sale item does not exist", _LINE_KEY, order_lines.c.sale_item_id, sale_items),
    ("order lines whose SKU does not exist", _LINE_KEY, order_lines.c.sku_id, skus),
)


async def dangling_references(conn: AsyncConnection, *, samples: int = 5) -> list[tuple[str, int, list[str]]]:
    """Per kind of reference that points at nothing: (what, how many rows, the keys of the first
    ``samples``). Kinds without such rows are left out. One anti-join per kind, each reading a whole hot
    table: for an operator's command, never for a request."""
    found = []
    for what, key, column, referred in _REFERENCES:
        query = (
            sa.select(*key, sa.func.count().over().label("dangling"))
            .where(~sa.exists().where(referred.c.id == column))
            .order_by(*key)
            .limit(samples)
        )
        rows = (await conn.execute(query)).all()
        if rows:
            found.append((what, int(rows[0].dangling), [":".join(str(v) for v in r[:-1]) for r in rows]))
    return found
