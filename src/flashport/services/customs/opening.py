"""Opening a declaration: in the same transaction that marks the order paid, so no paid order is ever
left undeclared and the worker's queue is the ``declarations`` table itself."""

from __future__ import annotations

from typing import Protocol

from flashport.adapters.db import declarations_repo
from flashport.ceb.codes import TradeMode
from flashport.domain.declarations import DeclarationState
from flashport.domain.orders import Fulfilment
from flashport.services.context import Tx


def cop_no_of(order_no: str) -> str:
    """The inventory list's copNo (at most 20): the order number's last 20 characters, day of the month
    to the second and the 48 random bits, unique as long as those bits are."""
    return order_no[4:][-20:]


class PaidOrder(Protocol):
    """What opening needs of the order being paid (an order row or record has these)."""

    @property
    def id(self) -> str: ...
    @property
    def order_no(self) -> str: ...
    @property
    def fulfilment(self) -> str: ...


async def open_within(tx: Tx, order: PaidOrder) -> None:
    """Must run in the transaction that moves ``order`` to paid."""
    mode = TradeMode.BONDED_IMPORT if order.fulfilment == Fulfilment.BONDED.value else TradeMode.DIRECT_IMPORT
    await declarations_repo.insert(
        tx.conn,
        order_id=order.id,
        order_no=order.order_no,
        trade_mode=mode,
        cop_no=cop_no_of(order.order_no),
        now=tx.now,
    )
    await tx.emit(
        "declaration.opened",
        f"order:{order.order_no}",
        {"order_no": order.order_no, "trade_mode": mode.value, "state": DeclarationState.PENDING.value},
    )
