"""CEB625, the return of released goods: taken only signed (the XSD requires ``ds:Signature``) by a
certificate registered to its ``agentCode``, for an inventory list customs released under the
``invtNo`` it names, once per list; answered with a CEB626 in the declarant's inbox (399 concluded,
100 refused with the reason, -1 when the schema or the signature refuses the message).

Taking a return gives the goods' dutiable value back to the buyer's total for the year they counted
in, computed as at release (:func:`~.checks.counting_year`, :func:`~flashport.domain.tax.dutiable_value_fen`),
so the platform's annual quota and customs' agree again. A return is filed apart from the four
documents of the match (:data:`~.tables.returns`).
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from flashport.ceb import ReceiptKind
from flashport.domain.tax import dutiable_value_fen
from flashport.sandbox_customs import after_sales, store
from flashport.sandbox_customs.certificates import Register
from flashport.sandbox_customs.checks import counting_year
from flashport.sandbox_customs.documents import DocumentKind, InventoryFacts, OrderFacts, PaymentFacts
from flashport.sandbox_customs.office import Office
from flashport.sandbox_customs.reading import read
from flashport.sandbox_customs.screening import Screened
from flashport.sandbox_customs.statuses import REJECTED, DeclarationState
from flashport.sandbox_customs.tables import returns

KIND = "CEB625"
CONCLUDED = 399
# Screening verifies a signature when there is one (the kind only words a missing one, said here).
SCREENED_AS = DocumentKind.WAYBILL


def is_return(raw: bytes) -> bool:
    return after_sales.is_message(raw, KIND)


async def receive(
    conn: AsyncConnection,
    raw: bytes,
    screened: Screened,
    register: Register | None,
    office: Office,
    now: datetime,
) -> str:
    """Judge each return of the message and answer it; returns the message guid. ``register`` None:
    signatures are not checked (the simulator's ``verify_signatures`` off). Raises
    ``NotACebMessage`` when there is no ``BaseTransfer/dxpId`` to answer to."""
    return await after_sales.receive_each(
        conn,
        raw,
        screened,
        register,
        office,
        now,
        kind=KIND,
        application="InvtRefund",
        head_of="InvtRefundHead",
        judge=_judge,
        receipt=ReceiptKind.RETURN,
    )


async def _judge(
    conn: AsyncConnection, head: dict[str, str], office: Office, now: datetime
) -> tuple[int, str, str | None]:
    order_no, ebp_code, invt_no = head.get("orderNo", ""), head.get("ebpCode", ""), head.get("invtNo", "")
    declaration = await after_sales.declaration_of(conn, order_no, ebp_code)
    if declaration is None:
        return REJECTED, f"清单不存在: no inventory list of order {order_no} is on file", None
    if declaration.state is not DeclarationState.RELEASED or declaration.invt_no != invt_no:
        return (
            REJECTED,
            f"清单未放行: no released inventory list {invt_no} for order {order_no}",
            declaration.pre_no,
        )
    before = (
        await conn.execute(
            sa.select(returns.c.guid).where(returns.c.order_no == order_no, returns.c.ebp_code == ebp_code)
        )
    ).first()
    if before is not None:
        if before.guid == head.get("guid"):  # the same application again: the same answer
            return CONCLUDED, "退货申请已审结: return concluded", declaration.pre_no
        return (
            REJECTED,
            f"已申请退货: the goods of order {order_no} were returned already",
            declaration.pre_no,
        )
    value = await give_back_year_total(conn, order_no, ebp_code, office)
    await conn.execute(
        returns.insert().values(
            order_no=order_no,
            ebp_code=ebp_code,
            invt_no=invt_no,
            cop_no=head.get("copNo"),
            guid=head.get("guid", ""),
            returned_fen=value,
            received_at=now,
        )
    )
    return CONCLUDED, "退货申请已审结: return concluded", declaration.pre_no


async def give_back_year_total(conn: AsyncConnection, order_no: str, ebp_code: str, office: Office) -> int:
    """The order's dutiable value taken off its buyer's total for the year it counted in when its
    list was accepted (a return, or a withdrawal before release)."""
    on_file = await store.documents_on_file(conn, order_no, ebp_code)
    facts = {kind: read(office.sealer.open(document.message)).facts for kind, document in on_file.items()}
    order, payment = facts.get(DocumentKind.ORDER), facts.get(DocumentKind.PAYMENT)
    inventory = facts.get(DocumentKind.INVENTORY)
    if not isinstance(order, OrderFacts) or not isinstance(inventory, InventoryFacts):
        return 0
    paid = payment if isinstance(payment, PaymentFacts) else None
    value = dutiable_value_fen(order.goods_value, order.freight, inventory.insured_fee)
    await store.add_released(conn, office.sealer, order.buyer.id_number, counting_year(order, paid), -value)
    return value
