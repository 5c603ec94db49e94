"""What the storefront follows of a buyer's orders besides the orders themselves: their statuses, for
the orders page's live refresh, and where each unpaid one stands between checkout and payment."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from flashport.adapters.db import buyer_orders_repo
from flashport.domain.orders import OrderStatus
from flashport.services.context import Context


@dataclass(frozen=True)
class OrderState:
    order_no: str
    status: OrderStatus
    payment_pending: bool = False  # a payment the provider has not settled yet


@dataclass(frozen=True)
class PaymentStage:
    """Where an order stands before its money moves: checked out (so it has an amount to pay), and
    whether a payment was opened (after which checkout refuses to change it)."""

    checked_out: bool
    payment_started: bool
    # A payment the provider has not settled yet (the buyer may have just paid), and one it closed
    # unpaid (declined: for instance a payer who is not the buyer); the page says which.
    payment_pending: bool = False
    payment_refused: bool = False
    # Why money was sent back when the provider's word about the latest payment was settled (a
    # ``RefundReason`` value: late_payment, duplicate_payment, amount_mismatch, payer_mismatch,
    # annual_limit, sale_cancelled), whether that refund has reached the payer, and whether the order's
    # sale was called off: what the order page tells the buyer, with what to do next.
    refund_reason: str | None = None
    refund_done: bool = False
    sale_cancelled: bool = False


NOT_STARTED = PaymentStage(checked_out=False, payment_started=False)


async def order_statuses(ctx: Context, buyer_id: int, *, limit: int = 50) -> list[OrderState]:
    """The buyer's newest orders, number and status only, newest first: one indexed query per poll."""
    async with ctx.read() as conn:
        found = await buyer_orders_repo.newest_statuses(conn, buyer_id, limit=limit)
    return [OrderState(order_no, OrderStatus(status), pending) for order_no, status, pending in found]


async def payment_stages(ctx: Context, buyer_id: int, order_nos: Sequence[str]) -> dict[str, PaymentStage]:
    """Per order number of this buyer's: its :class:`PaymentStage`. One query, scoped by buyer; numbers
    that are not the buyer's are left out."""
    if not order_nos:
        return {}
    async with ctx.read() as conn:
        found = await buyer_orders_repo.payment_stages(conn, buyer_id, order_nos)
    return {
        row.order_no: PaymentStage(
            checked_out=row.checked_out,
            payment_started=row.started,
            payment_pending=row.pending,
            payment_refused=row.closed and not row.pending,
            refund_reason=row.refund_reason,
            refund_done=row.refund_done,
            sale_cancelled=row.sale_cancelled,
        )
        for row in found
    }
