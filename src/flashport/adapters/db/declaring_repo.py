"""SQL for the worker's declaring stage, set-based: claim a batch of due declarations, read what they
declare for all of them at once, keep and mark batched messages, record each step for many
declarations in one statement. Every function works in the caller's connection."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Literal

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from flashport.adapters.db.declarations_repo import _COLUMNS, Declaration, _declaration
from flashport.adapters.db.declared_orders_repo import (
    DECLARED_GOODS_COLUMNS,
    DeclaredLine,
    DeclaredOrder,
    DeclaredPayment,
    Warehouse,
)
from flashport.adapters.db.schema import (
    brands,
    customs_batches,
    customs_messages,
    declarations,
    order_lines,
    orders,
    payments,
    products,
    sale_items,
    skus,
    warehouses,
)
from flashport.domain.declarations import DeclarationState

D = declarations.c
M = customs_messages.c
B = customs_batches.c
PLATFORM = "platform"
DELETE = "3"

_STEP_COLUMN = {"order": "order_sent_version", "inventory": "inventory_sent_version"}


# --- claiming ----------------------------------------------------------------------------------------


async def claim_due(conn: AsyncConnection, now: datetime, until: datetime, limit: int) -> list[Declaration]:
    """Take up to ``limit`` pending declarations due by ``now`` (longest waiting first) until ``until``.
    On PostgreSQL the rows are locked as they are chosen and rows another worker is claiming are
    skipped (``FOR UPDATE SKIP LOCKED``), so two workers never take the same declaration; SQLite has
    one writer at a time. Two statements, not ``UPDATE ... WHERE id IN (SELECT ... LIMIT)``: PostgreSQL
    may run such a subquery again for each row it updates, and with SKIP LOCKED each run finds other
    rows, so the limit would not hold."""
    due = await conn.scalars(
        sa.select(D.id)
        .where(D.state == DeclarationState.PENDING.value, D.next_attempt_at <= now)
        .order_by(D.next_attempt_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    ids = list(due.all())
    if not ids:
        return []
    claimed = await conn.execute(
        declarations.update()
        .where(D.id.in_(ids), D.state == DeclarationState.PENDING.value)
        .values(next_attempt_at=until)
        .returning(*_COLUMNS)
    )
    return sorted((_declaration(row._mapping) for row in claimed), key=lambda d: d.id)


async def declarations_by_id(conn: AsyncConnection, ids: Sequence[int]) -> dict[int, Declaration]:
    rows = await conn.execute(sa.select(*_COLUMNS).where(D.id.in_(list(ids))))
    return {(d := _declaration(row._mapping)).id: d for row in rows}


# --- what the declarations declare, for many at once --------------------------------------------------


@dataclass(frozen=True)
class DeclaredSet:
    """Orders (by id), their lines (by order id, in line order), their succeeded payments (by order id;
    the latest) and the warehouses their items ship from (by sale item id)."""

    orders: dict[str, DeclaredOrder]
    lines: dict[str, list[DeclaredLine]]
    payments: dict[str, DeclaredPayment]
    warehouses: dict[int, Warehouse]


async def declared_set(conn: AsyncConnection, order_ids: Sequence[str]) -> DeclaredSet:
    """Four queries whatever the number of orders."""
    ids = list(order_ids)
    order_columns = [orders.c[f.name] for f in fields(DeclaredOrder)]
    found = {
        row.id: DeclaredOrder(**row._mapping)
        for row in await conn.execute(sa.select(*order_columns).where(orders.c.id.in_(ids)))
    }
    lines: dict[str, list[DeclaredLine]] = {order_id: [] for order_id in found}
    line_rows = await conn.execute(
        sa.select(order_lines.c.order_id, *_LINE_COLUMNS)
        .join(skus, skus.c.id == order_lines.c.sku_id)
        .join(products, products.c.id == skus.c.product_id)
        .join(brands, brands.c.id == products.c.brand_id)
        .where(order_lines.c.order_id.in_(ids))
        .order_by(order_lines.c.order_id, order_lines.c.line_no)
    )
    for row in line_rows:
        values = dict(row._mapping)
        lines.setdefault(values.pop("order_id"), []).append(DeclaredLine(**values))
    p = payments.c
    paid: dict[str, DeclaredPayment] = {}
    payment_rows = await conn.execute(
        sa.select(p.order_id, p.id, p.out_trade_no, p.provider_trade_no, p.amount_fen)
        .where(p.order_id.in_(ids), p.status == "succeeded")
        .order_by(p.id)
    )
    for paid_row in payment_rows:  # ascending ids: the latest succeeded payment of an order wins
        paid[paid_row.order_id] = DeclaredPayment(
            paid_row.id, paid_row.out_trade_no, paid_row.provider_trade_no, paid_row.amount_fen
        )
    w = warehouses.c
    item_ids = sorted({order.sale_item_id for order in found.values()})
    warehouse_rows = await conn.execute(
        sa.select(
            sale_items.c.id.label("sale_item_id"),
            w.code,
            w.name,
            w.customs_district,
            w.country,
            w.ems_no,
            w.area_code,
        )
        .join(sale_items, sale_items.c.warehouse_id == w.id)
        .where(sale_items.c.id.in_(item_ids))
    )
    places: dict[int, Warehouse] = {}
    for place in warehouse_rows:
        places[place.sale_item_id] = Warehouse(
            place.code, place.name, place.customs_district, place.country, place.ems_no, place.area_code
        )
    return DeclaredSet(found, lines, paid, places)


_LINE_COLUMNS = (
    order_lines.c.line_no,
    order_lines.c.sku_id,
    order_lines.c.title,
    order_lines.c.quantity,
    order_lines.c.unit_price_fen,
    order_lines.c.total_fen,
    skus.c.code.label("sku_code"),
    skus.c.spec,
    skus.c.barcode,
    skus.c.unit,
    skus.c.weight_grams,
    products.c.title.label("product_title"),
    products.c.hs_code,
    products.c.legal_unit,
    products.c.origin_country,
    brands.c.name.label("brand"),
    *DECLARED_GOODS_COLUMNS,
)


# --- batched messages --------------------------------------------------------------------------------


@dataclass(frozen=True)
class KeptDocument:
    """One declaration's document in a message the platform kept but has not marked sent."""

    declaration_id: int
    message_id: int
    guid: str  # the head's
    app_type: str
    batch_id: int | None
    body_cipher: str  # the whole message as kept (the batch's, for a batched document)


async def unsent_platform_documents(
    conn: AsyncConnection, declarations_seen: Sequence[Declaration], kind: str
) -> list[KeptDocument]:
    """The platform's ``kind`` documents of these declarations' current versions kept but not yet
    sent (an earlier attempt failed): they are sent again as they were."""
    versions = {d.id: d.version for d in declarations_seen}
    query = (
        sa.select(
            M.declaration_id,
            M.id.label("message_id"),
            M.guid,
            M.app_type,
            M.batch_id,
            M.version,
            sa.func.coalesce(M.body_cipher, B.body_cipher).label("body_cipher"),
        )
        .select_from(customs_messages.outerjoin(customs_batches, B.id == M.batch_id))
        .where(
            M.declaration_id.in_(list(versions)),
            M.kind == kind,
            M.party == PLATFORM,
            M.app_type != DELETE,
            M.sent_at.is_(None),
        )
    )
    found = []
    for row in await conn.execute(query):
        if versions.get(row.declaration_id) == row.version:
            found.append(
                KeptDocument(
                    row.declaration_id, row.message_id, row.guid, row.app_type, row.batch_id, row.body_cipher
                )
            )
    return found


@dataclass(frozen=True)
class NewDocument:
    declaration_id: int
    version: int
    guid: str  # the head's
    app_type: str


async def keep_message(
    conn: AsyncConnection,
    *,
    kind: str,
    party: str,
    message_guid: str,
    body_cipher: str,
    documents: Sequence[NewDocument],
    now: datetime,
    sent: bool,
) -> tuple[int | None, dict[int, int]]:
    """Keep one message and a row per document in it; the message id of each declaration. A message of
    one document keeps its body in its own row (guid = head guid); a batch is kept once in
    ``customs_batches``. ``sent``: a partner's message, reported after it was sent. Returns the batch
    id (None for a message of one document) and the message id of each declaration."""
    batch_id = None
    if len(documents) > 1 or documents[0].guid != message_guid:
        batch_id = await conn.scalar(
            customs_batches.insert()
            .values(
                kind=kind,
                party=party,
                guid=message_guid,
                body_cipher=body_cipher,
                created_at=now,
                sent_at=now if sent else None,
            )
            .returning(B.id)
        )
    rows = [
        {
            "declaration_id": d.declaration_id,
            "kind": kind,
            "party": party,
            "app_type": d.app_type,
            "version": d.version,
            "guid": d.guid,
            "body_cipher": None if batch_id is not None else body_cipher,
            "batch_id": batch_id,
            "created_at": now,
            "sent_at": now if sent else None,
        }
        for d in documents
    ]
    result = await conn.execute(customs_messages.insert().returning(M.declaration_id, M.id), rows)
    return batch_id, {row.declaration_id: row.id for row in result}


async def partner_batch_id(conn: AsyncConnection, message_guid: str) -> int | None:
    return await conn.scalar(sa.select(B.id).where(B.guid == message_guid))


async def keep_partner_documents(
    conn: AsyncConnection,
    *,
    kind: str,
    party: str,
    message_guid: str,
    body_cipher: str,
    documents: Sequence[NewDocument],
    now: datetime,
) -> None:
    """Keep a partner's message as it reported it (once per message guid, however many of its
    documents are reported) and a row per document not kept yet (once per head guid)."""
    batch_id = await partner_batch_id(conn, message_guid)
    if batch_id is None:
        batch_id = await conn.scalar(
            customs_batches.insert()
            .values(
                kind=kind,
                party=party,
                guid=message_guid,
                body_cipher=body_cipher,
                created_at=now,
                sent_at=now,
            )
            .returning(B.id)
        )
    guids = [d.guid for d in documents]
    kept = set((await conn.scalars(sa.select(M.guid).where(M.guid.in_(guids)))).all())
    rows = [
        {
            "declaration_id": d.declaration_id,
            "kind": kind,
            "party": party,
            "app_type": d.app_type,
            "version": d.version,
            "guid": d.guid,
            "body_cipher": None,
            "batch_id": batch_id,
            "created_at": now,
            "sent_at": now,
        }
        for d in documents
        if d.guid not in kept
    ]
    if rows:
        await conn.execute(customs_messages.insert(), rows)


async def mark_sent(
    conn: AsyncConnection, message_ids: Sequence[int], batch_id: int | None, now: datetime
) -> None:
    """The message is sent: its batch and every document row of it."""
    if batch_id is not None:
        await conn.execute(customs_batches.update().where(B.id == batch_id).values(sent_at=now))
        await conn.execute(customs_messages.update().where(M.batch_id == batch_id).values(sent_at=now))
    else:
        await conn.execute(customs_messages.update().where(M.id.in_(list(message_ids))).values(sent_at=now))


async def order_numbers(conn: AsyncConnection, ids: Sequence[int]) -> dict[int, str]:
    rows = await conn.execute(sa.select(D.id, D.order_no).where(D.id.in_(list(ids))))
    return {row.id: row.order_no for row in rows}


async def members_of(conn: AsyncConnection, batch_id: int) -> list[tuple[int, int, int]]:
    """(declaration id, version, message id) of every document in a batch."""
    rows = await conn.execute(sa.select(M.declaration_id, M.version, M.id).where(M.batch_id == batch_id))
    return [(row.declaration_id, row.version, row.id) for row in rows]


# --- recording steps, for many at once ---------------------------------------------------------------


async def record_sent(
    conn: AsyncConnection, step: Literal["order", "inventory"], done: Sequence[tuple[int, int]], now: datetime
) -> None:
    """The platform's order or inventory list of each (declaration id, version) is sent; a declaration
    since moved to another version is left alone."""
    if not done:
        return
    column = _STEP_COLUMN[step]
    await conn.execute(
        declarations.update()
        .where(D.id == sa.bindparam("d_id"), D.version == sa.bindparam("d_version"))
        .values({column: sa.bindparam("d_version"), "updated_at": now}),
        [{"d_id": d_id, "d_version": version} for d_id, version in done],
    )


async def record_payments_declared(
    conn: AsyncConnection, done: Sequence[tuple[Declaration, str | None]], now: datetime
) -> None:
    """The payment company declared each declaration's payment voucher of its version."""
    if not done:
        return
    await conn.execute(
        declarations.update()
        .where(D.id == sa.bindparam("d_id"), D.version == sa.bindparam("d_version"))
        .values(
            payment_declare_no=sa.bindparam("d_declare_no"),
            payment_declared_version=sa.bindparam("d_version"),
            updated_at=now,
        ),
        [{"d_id": d.id, "d_version": d.version, "d_declare_no": no} for d, no in done],
    )


@dataclass(frozen=True)
class GivenWaybill:
    declaration: Declaration
    logistics_no: str
    logistics_code: str
    logistics_name: str
    bill_no: str | None
    traf_no: str | None
    voyage_no: str | None


async def record_waybills(conn: AsyncConnection, given: Sequence[GivenWaybill], now: datetime) -> None:
    """The carrier declared each declaration's waybill of its version."""
    if not given:
        return
    await conn.execute(
        declarations.update()
        .where(D.id == sa.bindparam("d_id"), D.version == sa.bindparam("d_version"))
        .values(
            logistics_no=sa.bindparam("d_logistics_no"),
            logistics_code=sa.bindparam("d_logistics_code"),
            logistics_name=sa.bindparam("d_logistics_name"),
            bill_no=sa.bindparam("d_bill_no"),
            traf_no=sa.bindparam("d_traf_no"),
            voyage_no=sa.bindparam("d_voyage_no"),
            waybill_version=sa.bindparam("d_version"),
            updated_at=now,
        ),
        [
            {
                "d_id": g.declaration.id,
                "d_version": g.declaration.version,
                "d_logistics_no": g.logistics_no,
                "d_logistics_code": g.logistics_code,
                "d_logistics_name": g.logistics_name,
                "d_bill_no": g.bill_no,
                "d_traf_no": g.traf_no,
                "d_voyage_no": g.voyage_no,
            }
            for g in given
        ],
    )


async def postpone_many(
    conn: AsyncConnection, failed: Sequence[tuple[int, int, str, datetime]], now: datetime
) -> None:
    """(declaration id, attempts, error, retry at) for each failed pending declaration."""
    if not failed:
        return
    await conn.execute(
        declarations.update()
        .where(D.id == sa.bindparam("d_id"), D.state == DeclarationState.PENDING.value)
        .values(
            attempts=sa.bindparam("d_attempts"),
            last_error=sa.bindparam("d_error"),
            next_attempt_at=sa.bindparam("d_retry_at"),
            updated_at=now,
        ),
        [
            {"d_id": d_id, "d_attempts": attempts, "d_error": error, "d_retry_at": retry_at}
            for d_id, attempts, error, retry_at in failed
        ],
    )


async def mark_declared_many(conn: AsyncConnection, ids: Sequence[int], now: datetime) -> list[Declaration]:
    """pending -> declared for those of ``ids`` whose four documents of their version are done; the
    declarations moved (as they are now)."""
    if not ids:
        return []
    moved = await conn.execute(
        declarations.update()
        .where(
            D.id.in_(list(ids)),
            D.state == DeclarationState.PENDING.value,
            D.order_sent_version >= D.version,
            D.payment_declared_version >= D.version,
            D.waybill_version >= D.version,
            D.inventory_sent_version >= D.version,
        )
        .values(state=DeclarationState.DECLARED.value, attempts=0, last_error=None, updated_at=now)
        .returning(*_COLUMNS)
    )
    return [_declaration(row._mapping) for row in moved]
