"""The tax bill family at the platform: customs' electronic tax bills (CEB816) and their status
(CEB818) arrive in the same DXP inbox as the receipts and are stored in the same transaction as the
page they came in; each bill is linked by its inventory number (given on release) to the declaration,
and so to the tax the buyer paid. The operator's ledger (:func:`period_ledger`) shows, per month, what
the platform owes customs as withholding agent and every order where billed and collected differ.
"""

from __future__ import annotations

import logging

from flashport.adapters.customs.gateway import InboxItem
from flashport.adapters.db import tax_bills_repo
from flashport.ceb import ReceiptUnreadable
from flashport.ceb.tax_bills import TAX_BILL, TAX_BILL_STATUS, parse_tax_bills, parse_tax_states
from flashport.domain.errors import NotFound
from flashport.domain.withholding import BillStatus, OrderTax, PeriodLedger, by_order, ledger, period_of
from flashport.services.context import Context, Tx

log = logging.getLogger(__name__)

TAX_KINDS = frozenset({TAX_BILL, TAX_BILL_STATUS})


def is_tax_message(item: InboxItem) -> bool:
    return item.kind in TAX_KINDS


async def take(tx: Tx, dxp_id: str, items: list[InboxItem]) -> None:
    """Store the bills and apply the statuses among ``items``, in the page's transaction. A bill
    stored already (a page read twice) is not stored again."""
    for item in items:
        try:
            if item.kind == TAX_BILL:
                await _store_bills(tx, item)
            elif item.kind == TAX_BILL_STATUS:
                await _apply_states(tx, item)
        except ReceiptUnreadable as exc:
            log.error("unreadable %s %s in inbox %s: %s", item.kind, item.seq, dxp_id, exc)


async def _store_bills(tx: Tx, item: InboxItem) -> None:
    body = item.message.decode("utf-8", "replace")
    await tax_bills_repo.store_bills(
        tx.conn,
        [
            {
                "tax_no": bill.tax_no,
                "invt_no": bill.invt_no,
                "status": bill.status.value,
                "customs_tax_fen": bill.customs_tax_fen,
                "vat_fen": bill.vat_fen,
                "consumption_tax_fen": bill.consumption_tax_fen,
                "billed_fen": bill.total_fen,
                "period": period_of(bill.return_time),
                "issued_at": bill.return_time,
                "body": body,
                "received_at": tx.now,
                "updated_at": tx.now,
            }
            for bill in parse_tax_bills(item.message)
        ],
    )


async def _apply_states(tx: Tx, item: InboxItem) -> None:
    for state in parse_tax_states(item.message):
        if not await tax_bills_repo.set_status(tx.conn, state.tax_no, BillStatus(state.status.value), tx.now):
            log.warning("tax bill status for unknown tax bill %s (inbox %s)", state.tax_no, item.seq)


async def period_ledger(ctx: Context, period: str) -> PeriodLedger:
    """What the platform owes customs for ``period`` (YYYY-MM, China time), with every mismatch."""
    async with ctx.read() as conn:
        return ledger(period, await tax_bills_repo.bills_of_period(conn, period))


async def order_tax(ctx: Context, order_no: str) -> OrderTax:
    """The order's bills reconciled against the tax its buyer paid."""
    async with ctx.read() as conn:
        found = by_order(await tax_bills_repo.bills_of_order(conn, order_no))
    if not found:
        raise NotFound(f"no tax bill for order {order_no}", code="tax_bill_not_found")
    return found[0]
