"""Running the three-document match on a declaration and recording the verdict: its new state, the
buyer's yearly total on release, and the CEB622 receipts to whoever sent the inventory list."""

from __future__ import annotations

from datetime import datetime
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection

from flashport.ceb.formatting import CHINA_STANDARD_TIME
from flashport.domain.tax import dutiable_value_fen
from flashport.sandbox_customs import inbox, store
from flashport.sandbox_customs.checks import Limits, counting_year
from flashport.sandbox_customs.documents import (
    DocumentKind,
    Facts,
    InventoryFacts,
    OrderFacts,
    PaymentFacts,
    WaybillFacts,
)
from flashport.sandbox_customs.match import Matched, Rejected, three_document_match
from flashport.sandbox_customs.reading import Envelope, Incoming, read
from flashport.sandbox_customs.statuses import ACCEPTED, REJECTED, RELEASED, DeclarationState
from flashport.sandbox_customs.store import Declaration

F = TypeVar("F", bound=Facts)

MATCHED_INFO = "matched: the three-document match succeeded"
RELEASED_INFO = "released"


def _facts(filed: dict[DocumentKind, Incoming], kind: DocumentKind, shape: type[F]) -> F | None:
    incoming = filed.get(kind)
    if incoming is None:
        return None
    if not isinstance(incoming.facts, shape):
        raise TypeError(f"{kind.value} on file reads as {type(incoming.facts).__name__}")
    return incoming.facts


async def judge(conn: AsyncConnection, declaration: Declaration, limits: Limits, at: datetime) -> None:
    """Match a waiting or rejected declaration against the documents on file, inside the caller's
    write transaction, and record the verdict."""
    on_file = await store.documents_on_file(conn, declaration.order_no, declaration.ebp_code)
    filed = {kind: read(document.message) for kind, document in on_file.items()}
    inventory = _facts(filed, DocumentKind.INVENTORY, InventoryFacts)
    if inventory is None:
        return
    order = _facts(filed, DocumentKind.ORDER, OrderFacts)
    payment = _facts(filed, DocumentKind.PAYMENT, PaymentFacts)
    year_total = (
        0
        if order is None
        else await store.released_total(conn, order.buyer.id_number, counting_year(order, payment))
    )
    verdict = three_document_match(
        inventory,
        order,
        payment,
        _facts(filed, DocumentKind.WAYBILL, WaybillFacts),
        limits=limits,
        buyer_year_total_fen=year_total,
    )
    listed = filed[DocumentKind.INVENTORY].envelope
    if isinstance(verdict, Rejected):
        await _reject(conn, declaration, listed, verdict, at)
    elif isinstance(verdict, Matched) and order is not None:  # matched implies all documents on file
        year, value = (
            counting_year(order, payment),
            dutiable_value_fen(order.goods_value, order.freight, inventory.insured_fee),
        )
        await _release(conn, declaration, listed, order, (year, value), at)
    elif declaration.state is not DeclarationState.WAITING:
        await store.update_declaration(conn, declaration, at, state=DeclarationState.WAITING)


async def _reject(
    conn: AsyncConnection, declaration: Declaration, listed: Envelope, verdict: Rejected, at: datetime
) -> None:
    await store.update_declaration(
        conn,
        declaration,
        at,
        state=DeclarationState.REJECTED,
        reason_code=verdict.reason_code,
        reason_text=verdict.return_info,
    )
    await inbox.answer(conn, listed, REJECTED, verdict.return_info, at, {"preNo": declaration.pre_no})


async def _release(
    conn: AsyncConnection,
    declaration: Declaration,
    listed: Envelope,
    order: OrderFacts,
    counted: tuple[int, int],
    at: datetime,
) -> None:
    """Released: the order's dutiable value counts toward its buyer's total for the year it was paid
    in (``counted``: year and value)."""
    keys = {"preNo": declaration.pre_no}
    invt_no = _inventory_number(listed.head.get("customsCode", ""), declaration.id, at)
    await store.update_declaration(conn, declaration, at, state=DeclarationState.RELEASED, invt_no=invt_no)
    await store.add_released(conn, order.buyer.id_number, *counted)
    await inbox.answer(conn, listed, ACCEPTED, MATCHED_INFO, at, keys)
    await inbox.answer(conn, listed, RELEASED, RELEASED_INFO, at, {**keys, "invtNo": invt_no})


def _inventory_number(customs_code: str, declaration_id: int, at: datetime) -> str:
    """Customs' inventory number: district (4), year (4), ``I`` for import, 9 digits: 18 characters."""
    year = at.astimezone(CHINA_STANDARD_TIME).year
    return f"{customs_code:0>4.4}{year}I{declaration_id:09d}"
