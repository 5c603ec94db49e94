"""The round trip a return (CEB625 -> CEB626) and a withdrawal (CEB623 -> CEB624) share: the worker
leases due rows and declares each, putting one whose sending failed back by its back-off; the receipts
job finds the declared row each receipt answers. What a message says and what its answer does stay in
:mod:`.returns` and :mod:`.withdrawals`."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Generic, Protocol, TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection

from flashport.adapters.customs.gateway import CustomsRefused, CustomsUnavailable, InboxItem
from flashport.adapters.db import aftersales_repo, declarations_repo
from flashport.adapters.db.declarations_repo import Declaration
from flashport.adapters.identity_vault import mask_id_numbers_in
from flashport.ceb import CustomsMessageError, Receipt, ReceiptUnreadable, parse_receipts
from flashport.services.context import Context, Tx
from flashport.services.customs import documents
from flashport.services.customs.documents import Facts, NotDeclarable
from flashport.services.payments.refunds import backoff

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=2)
# What makes a declaration wait and be tried again; anything else is a bug and propagates.
FAILURES = (CustomsUnavailable, CustomsRefused, CustomsMessageError, NotDeclarable)


class Declarable(Protocol):
    @property
    def order_no(self) -> str: ...
    @property
    def attempts(self) -> int: ...


Row = TypeVar("Row", bound=Declarable)
Lease = Callable[[AsyncConnection, datetime, datetime, int], Awaitable[list[int]]]
Postpone = Callable[[AsyncConnection, int, str, datetime, datetime], Awaitable[None]]


async def declare_due(
    ctx: Context,
    noun: str,
    *,
    lease: Lease,
    declare: Callable[[Context, int], Awaitable[int]],
    get: Callable[[AsyncConnection, int], Awaitable[Row | None]],
    postpone: Postpone,
    batch: int,
) -> int:
    """Lease the due rows and ``declare`` each (it returns 1 when it moved the row); a row whose
    declaring failed (:data:`FAILURES`) keeps its masked error and waits its back-off. Returns the sum."""
    async with ctx.transaction() as tx:
        ids = await lease(tx.conn, tx.now, tx.now + LEASE, batch)
    declared = 0
    for row_id in ids:
        try:
            declared += await declare(ctx, row_id)
        except FAILURES as exc:
            error = mask_id_numbers_in(str(exc))
            log.warning("%s %s not declared yet: %s", noun, row_id, error)
            async with ctx.transaction() as tx:
                found = await get(tx.conn, row_id)
                attempts = (found.attempts if found else 0) + 1
                await postpone(tx.conn, row_id, error, tx.now + backoff(attempts), tx.now)
    return declared


@dataclass(frozen=True)
class ToDeclare(Generic[Row]):
    """A row about to be declared, with what its message is made of."""

    row: Row
    declaration: Declaration
    facts: Facts
    invt_no: str | None  # None until customs has accepted the inventory list


async def load(
    ctx: Context, row_id: int, get: Callable[[AsyncConnection, int], Awaitable[Row | None]]
) -> ToDeclare[Row] | None:
    """The row and its order's declaration, facts and inventory number, read together; None when the
    row or the declaration is not there."""
    async with ctx.read() as conn:
        row = await get(conn, row_id)
        declaration = await declarations_repo.find_by_order_no(conn, row.order_no) if row else None
        if row is None or declaration is None:
            return None
        invt_no = await aftersales_repo.inventory_number(conn, row.order_no)
        facts = await documents.load(ctx, conn, declaration.id, any_payment=True)
    return ToDeclare(row, declaration, facts, invt_no)


async def answered_rows(
    tx: Tx,
    dxp_id: str,
    items: list[InboxItem],
    noun: str,
    find: Callable[[AsyncConnection, str, str | None], Awaitable[Row | None]],
) -> AsyncIterator[tuple[Row, Receipt]]:
    """Each receipt in the inbox page with the declared row it answers (found by the head guid it
    echoes, else by copNo, and locked); an unreadable message is logged and skipped, and so is a receipt
    whose row is not declared (answered already, when read twice)."""
    for item in items:
        try:
            receipts = parse_receipts(item.message)
        except ReceiptUnreadable as exc:
            log.error("unreadable %s receipt %s in inbox %s: %s", noun, item.seq, dxp_id, exc)
            continue
        for receipt in receipts:
            row = await find(tx.conn, receipt.guid, receipt.business_keys.get("copNo"))
            if row is not None:
                yield row, receipt
