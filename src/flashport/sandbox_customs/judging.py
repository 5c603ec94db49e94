"""Running the three-document match on a declaration and recording the verdict: its new state, the
buyer's yearly total on acceptance, and the CEB622 receipts to whoever sent the inventory list; and
releasing an accepted list (at once, or when customs' officer does it: :func:`release`)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection

from flashport.ceb.formatting import CHINA_STANDARD_TIME
from flashport.domain.tax import dutiable_value_fen
from flashport.sandbox_customs import inbox, store, store_many, tax_bills
from flashport.sandbox_customs.checks import assessment, counting_year
from flashport.sandbox_customs.documents import (
    DocumentKind,
    Facts,
    InventoryFacts,
    OrderFacts,
    PaymentFacts,
    WaybillFacts,
)
from flashport.sandbox_customs.inbox import Answer, Mail
from flashport.sandbox_customs.match import Matched, Rejected, three_document_match
from flashport.sandbox_customs.office import Office
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


async def _documents(
    conn: AsyncConnection, declaration: Declaration, office: Office
) -> dict[DocumentKind, Incoming]:
    """The documents the declaration is judged on; the waybill is the one its inventory list names
    (when the order has several, e.g. one from another platform's carrier), else any of the order's."""
    on_file = await store.documents_on_file(conn, declaration.order_no, declaration.ebp_code)
    filed = {kind: read(office.sealer.open(document.message)) for kind, document in on_file.items()}
    inventory = _facts(filed, DocumentKind.INVENTORY, InventoryFacts)
    if inventory is not None:
        named = await store.waybill_named(
            conn, declaration.order_no, inventory.logistics_code, inventory.logistics_no
        )
        if named is not None:
            filed[DocumentKind.WAYBILL] = read(office.sealer.open(named.message))
    return filed


async def judge(conn: AsyncConnection, declaration: Declaration, office: Office, at: datetime) -> None:
    """Match a waiting or rejected declaration against the documents on file, inside the caller's
    write transaction, and record the verdict."""
    filed = await _documents(conn, declaration, office)
    inventory = _facts(filed, DocumentKind.INVENTORY, InventoryFacts)
    if inventory is None:
        return
    order = _facts(filed, DocumentKind.ORDER, OrderFacts)
    payment = _facts(filed, DocumentKind.PAYMENT, PaymentFacts)
    year_total = (
        0
        if order is None
        else await store.released_total(
            conn, office.sealer, order.buyer.id_number, counting_year(order, payment)
        )
    )
    verdict = three_document_match(
        inventory,
        order,
        payment,
        _facts(filed, DocumentKind.WAYBILL, WaybillFacts),
        limits=office.limits,
        buyer_year_total_fen=year_total,
        check_tax=office.check_tax,
    )
    listed = filed[DocumentKind.INVENTORY].envelope
    if isinstance(verdict, Rejected):
        await _reject(conn, declaration, listed, verdict, at)
    elif isinstance(verdict, Matched) and order is not None:  # matched implies all documents on file
        year, value = (
            counting_year(order, payment),
            dutiable_value_fen(order.goods_value, order.freight, inventory.insured_fee),
        )
        await _release(conn, declaration, filed[DocumentKind.INVENTORY], order, office, (year, value), at)
    elif declaration.state is not DeclarationState.WAITING:
        await store.update_declaration(conn, declaration, at, state=DeclarationState.WAITING)


async def _reject(
    conn: AsyncConnection,
    declaration: Declaration,
    listed: Envelope,
    verdict: Rejected,
    at: datetime,
    mail: Mail | None = None,
) -> None:
    await store.update_declaration(
        conn,
        declaration,
        at,
        state=DeclarationState.REJECTED,
        reason_code=verdict.reason_code,
        reason_text=verdict.return_info,
    )
    keys = {"preNo": declaration.pre_no}
    if mail is None:
        await inbox.answer(conn, listed, REJECTED, verdict.return_info, at, keys)
    else:
        mail.answer(Answer(listed, REJECTED, verdict.return_info, keys), at)


async def _release(
    conn: AsyncConnection,
    declaration: Declaration,
    inventory: Incoming,
    order: OrderFacts,
    office: Office,
    counted: tuple[int, int],
    at: datetime,
) -> None:
    """Matched: customs accepts the list (120, with the inventory number it gives it) and the order's
    dutiable value counts toward its buyer's total for the year it was paid in (``counted``: year and
    value), where the annual limit was just checked. Released at once (800), unless the office holds
    releases (:attr:`Office.hold_release`): the list then waits, accepted, for :func:`release`."""
    invt_no = _inventory_number(inventory.envelope.head.get("customsCode", ""), declaration.id, at)
    accepted = await store.update_declaration(
        conn, declaration, at, state=DeclarationState.ACCEPTED, invt_no=invt_no
    )
    await store.add_released(conn, office.sealer, order.buyer.id_number, *counted)
    keys = {"preNo": declaration.pre_no, "invtNo": invt_no}
    await inbox.answer(conn, inventory.envelope, ACCEPTED, MATCHED_INFO, at, keys)
    if not office.hold_release:
        await release(conn, accepted, office, at, listed=inventory)


async def release(
    conn: AsyncConnection,
    declaration: Declaration,
    office: Office,
    at: datetime,
    *,
    listed: Incoming | None = None,
) -> bool:
    """Release an accepted list (800) and bill the tax customs assessed on it (CEB816) to the
    declarant, who withholds it for the buyer. Decided once: False when the list is no longer
    accepted (released already, or withdrawn by a CEB623 that came first). ``listed``: the list on
    file, when the caller has just read it (inside the same transaction)."""
    if not await store.move_declaration(
        conn, declaration, DeclarationState.ACCEPTED, DeclarationState.RELEASED, at
    ):
        return False
    if listed is None:
        on_file = await store.documents_on_file(conn, declaration.order_no, declaration.ebp_code)
        listed = read(office.sealer.open(on_file[DocumentKind.INVENTORY].message))
    keys = {"preNo": declaration.pre_no, "invtNo": declaration.invt_no}
    await inbox.answer(conn, listed.envelope, RELEASED, RELEASED_INFO, at, keys)
    if isinstance(listed.facts, InventoryFacts) and declaration.invt_no:
        assessed = assessment(listed.facts, office.limits)
        await tax_bills.issue(conn, declaration, listed.envelope, declaration.invt_no, assessed, at)
    return True


def _inventory_number(customs_code: str, declaration_id: int, at: datetime) -> str:
    """Customs' inventory number: district (4), year (4), ``I`` for import, 9 digits: 18 characters."""
    year = at.astimezone(CHINA_STANDARD_TIME).year
    return f"{customs_code:0>4.4}{year}I{declaration_id:09d}"


async def judge_many(
    conn: AsyncConnection, declarations: Sequence[Declaration], office: Office, at: datetime, mail: Mail
) -> None:
    """:func:`judge` for the declarations of one message, inside the caller's write transaction: one
    read of their documents and of their buyers' yearly totals, and the common verdict (matched,
    released at once) written for all of them together. A rejection, or a list customs holds, is
    recorded declaration by declaration as :func:`judge` does."""
    if len({d.order_no for d in declarations}) < len(declarations):  # each would see the other's verdict
        await mail.send(conn)  # what came before goes first
        for declaration in declarations:
            await judge(conn, declaration, office, at)
        return
    on_file = await store_many.current_documents(conn, [d.order_no for d in declarations])
    judged = []
    for declaration in declarations:
        filed = _documents_from(on_file.get(declaration.order_no, []), declaration, office)
        inventory = _facts(filed, DocumentKind.INVENTORY, InventoryFacts)
        if inventory is not None:
            judged.append((declaration, filed, inventory, _facts(filed, DocumentKind.ORDER, OrderFacts)))
    totals = await store_many.released_totals(
        conn, [office.sealer.id_key(order.buyer.id_number) for *_, order in judged if order is not None]
    )
    known_totals, added = set(totals), dict[tuple[str, int], int]()
    matched: list[tuple[Declaration, Incoming, str]] = []
    for declaration, filed, inventory, order in judged:
        payment = _facts(filed, DocumentKind.PAYMENT, PaymentFacts)
        key = None
        if order is not None:
            key = (office.sealer.id_key(order.buyer.id_number), counting_year(order, payment))
        verdict = three_document_match(
            inventory,
            order,
            payment,
            _facts(filed, DocumentKind.WAYBILL, WaybillFacts),
            limits=office.limits,
            buyer_year_total_fen=totals.get(key, 0) if key is not None else 0,
            check_tax=office.check_tax,
        )
        listed = filed[DocumentKind.INVENTORY]
        if isinstance(verdict, Rejected):
            await _reject(conn, declaration, listed.envelope, verdict, at, mail)
        elif isinstance(verdict, Matched) and order is not None and key is not None:
            value = dutiable_value_fen(order.goods_value, order.freight, inventory.insured_fee)
            totals[key] = totals.get(key, 0) + value  # the next list of the same buyer counts it
            added[key] = added.get(key, 0) + value
            invt_no = _inventory_number(listed.envelope.head.get("customsCode", ""), declaration.id, at)
            matched.append((declaration, listed, invt_no))
        elif declaration.state is not DeclarationState.WAITING:
            await store.update_declaration(conn, declaration, at, state=DeclarationState.WAITING)
    await _release_many(conn, matched, office, at, mail)
    await store_many.add_released(conn, added, known_totals)


def _documents_from(
    filed: Sequence[store.FiledDocument], declaration: Declaration, office: Office
) -> dict[DocumentKind, Incoming]:
    """:func:`_documents` from the order's current documents read once for the whole message."""
    on_file = store_many.on_file_of(filed, declaration.ebp_code)
    documents = {kind: read(office.sealer.open(document.message)) for kind, document in on_file.items()}
    inventory = _facts(documents, DocumentKind.INVENTORY, InventoryFacts)
    if inventory is not None:
        named = store_many.waybill_of(filed, inventory.logistics_code, inventory.logistics_no)
        if named is not None:
            documents[DocumentKind.WAYBILL] = read(office.sealer.open(named.message))
    return documents


async def _release_many(
    conn: AsyncConnection,
    matched: list[tuple[Declaration, Incoming, str]],
    office: Office,
    at: datetime,
    mail: Mail,
) -> None:
    """:func:`_release` for many: accepted (120), then released at once (800) and their tax billed,
    unless the office holds releases; the receipts go with ``mail``."""
    if not matched:
        return
    await store_many.accept(conn, [(d, invt_no) for d, _, invt_no in matched], at)
    for d, listed, invt_no in matched:
        keys = {"preNo": d.pre_no, "invtNo": invt_no}
        mail.answer(Answer(listed.envelope, ACCEPTED, MATCHED_INFO, keys), at)
    if office.hold_release:
        return
    await store_many.release(conn, [d for d, _, _ in matched], at)
    billed = []
    for d, listed, invt_no in matched:
        keys = {"preNo": d.pre_no, "invtNo": invt_no}
        mail.answer(Answer(listed.envelope, RELEASED, RELEASED_INFO, keys), at)
        if isinstance(listed.facts, InventoryFacts):
            released = dataclasses.replace(d, invt_no=invt_no, state=DeclarationState.RELEASED)
            billed.append((released, listed.envelope, invt_no, assessment(listed.facts, office.limits)))
    await tax_bills.issue_many(conn, billed, at, mail)
