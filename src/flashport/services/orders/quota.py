"""The annual-quota ledger (rule 8): what each buyer identity has paid in a customs year, reserved
atomically when an order is paid and given back when a paid order's money goes back.

Checkout checks the limit against :func:`paid_this_year` to refuse early; the settlement re-checks it
with :func:`reserve_order_quota_within`, since two orders of one person can be paid at the same moment.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from flashport.adapters.db import quota_repo
from flashport.domain.limits import customs_year
from flashport.domain.tax import dutiable_value_fen
from flashport.services.context import Context, Tx

log = logging.getLogger(__name__)


async def paid_this_year(conn: AsyncConnection, id_hash: str, year: int) -> int:
    """What the identity has paid (reserved) in customs year ``year``, in fen."""
    return await quota_repo.paid_in_year(conn, id_hash, year)


async def reserve_annual_quota_within(
    tx: Tx, identity_hash: str, year: int, amount_fen: int, limit_fen: int
) -> bool:
    """Inside ``tx``: add ``amount_fen`` to the identity's paid total of ``year`` if the total stays
    within ``limit_fen``; False (and nothing written) otherwise. One conditional upsert: of two
    transactions racing for the last of the quota, the second waits for the first's row and re-checks
    against its committed total, so at most one fits. Call it once per order, in the transaction that
    moves the order to paid; a False must lead to a refund, not to a paid order."""
    if amount_fen < 0:
        raise ValueError("a negative amount cannot be reserved")
    return await quota_repo.add_within_limit(tx.conn, identity_hash, year, amount_fen, limit_fen, tx.now)


async def release_annual_quota_within(tx: Tx, identity_hash: str, year: int, amount_fen: int) -> None:
    """Inside ``tx``: give back a reservation whose money went back (a paid order refunded)."""
    await quota_repo.take_back(tx.conn, identity_hash, year, amount_fen, tx.now)


def quota_of(order: Any) -> int:
    """What an order (a row with its amounts) counts toward its identity's year: its dutiable value
    (goods + freight; the platform charges no insurance), in full, before non-cash discounts."""
    return dutiable_value_fen(order.goods_value_fen, order.freight_fen)


async def reserve_order_quota_within(ctx: Context, tx: Tx, order: Any, paid_at: datetime) -> bool:
    """:func:`reserve_annual_quota_within` for a checked-out order row, counted in the year of
    ``paid_at`` in China. An order without checkout carries no identity and reserves nothing (True)."""
    if order.buyer_id_hash is None:
        log.warning("order %s paid without checkout: no identity to count", order.order_no)
        return True
    return await reserve_annual_quota_within(
        tx, order.buyer_id_hash, customs_year(paid_at), quota_of(order), ctx.settings.annual_limit_fen
    )
