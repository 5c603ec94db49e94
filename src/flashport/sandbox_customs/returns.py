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
from lxml import etree
from sqlalchemy.ext.asyncio import AsyncConnection

from flashport.ceb import Receipt, ReceiptKind, new_guid, receipt_message
from flashport.ceb.xml import CEB_NS, ceb, safe_parser
from flashport.domain.tax import dutiable_value_fen
from flashport.sandbox_customs import store
from flashport.sandbox_customs.certificates import Register
from flashport.sandbox_customs.checks import counting_year
from flashport.sandbox_customs.documents import DocumentKind, InventoryFacts, OrderFacts, PaymentFacts
from flashport.sandbox_customs.office import Office
from flashport.sandbox_customs.reading import NotACebMessage, read
from flashport.sandbox_customs.refusals import joined
from flashport.sandbox_customs.screening import Screened
from flashport.sandbox_customs.statuses import PROCESSING_ERROR, REJECTED, DeclarationState
from flashport.sandbox_customs.tables import inbox, returns

KIND = "CEB625"
CONCLUDED = 399
# Signed by the list's declarant, as a CEB621 is: the same register entry (agentCode) signs both.
SIGNED_AS = DocumentKind.INVENTORY
# Screening verifies a signature when there is one (the kind only words a missing one, said here).
SCREENED_AS = DocumentKind.WAYBILL
KEYS = ("customsCode", "agentCode", "ebpCode", "ebcCode", "copNo", "preNo", "invtNo")


def is_return(raw: bytes) -> bool:
    try:
        root = etree.fromstring(raw, parser=safe_parser())
    except (etree.XMLSyntaxError, ValueError):
        return False
    return bool(root.tag == f"{{{CEB_NS}}}{KIND}Message")


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
    root = etree.fromstring(raw, parser=safe_parser())
    dxp_id = (root.findtext(f"{ceb('BaseTransfer')}/{ceb('dxpId')}") or "").strip()
    if not dxp_id:
        raise NotACebMessage(f"{KIND}Message without BaseTransfer/dxpId: nowhere to send receipts")
    for node in root.findall(ceb("InvtRefund")) or [None]:
        head = children(None if node is None else node.find(ceb("InvtRefundHead")))
        pre_no = None
        if screened.problem is not None:
            status, info = PROCESSING_ERROR, screened.problem
        elif register is not None and screened.signed_by is None:
            status, info = PROCESSING_ERROR, f"{KIND} must carry ds:Signature"
        elif register is not None and (
            unregistered := register.refusal(SIGNED_AS, head, screened.signed_by or "")
        ):
            status, info = REJECTED, joined([unregistered])
        else:
            status, info, pre_no = await _judge(conn, head, office, now)
        await answer(conn, dxp_id, head, pre_no, root.get("guid") or new_guid(), status, info, now)
    return root.get("guid") or ""


async def _judge(
    conn: AsyncConnection, head: dict[str, str], office: Office, now: datetime
) -> tuple[int, str, str | None]:
    order_no, ebp_code, invt_no = head.get("orderNo", ""), head.get("ebpCode", ""), head.get("invtNo", "")
    found = [d for d in await store.declarations_of(conn, order_no, ebp_code) if d.ebp_code == ebp_code]
    if not found:
        return REJECTED, f"清单不存在: no inventory list of order {order_no} is on file", None
    declaration = found[0]
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


async def answer(
    conn: AsyncConnection,
    dxp_id: str,
    head: dict[str, str],
    pre_no: str | None,
    guid: str,
    status: int,
    info: str,
    at: datetime,
    kind: ReceiptKind = ReceiptKind.RETURN,
) -> None:
    """The receipt (CEB626, or ``kind``: CEB624 answers a CEB623 with the same keys) in the
    declarant's inbox, under the head's guid."""
    keys = {name: value for name in KEYS if (value := head.get(name))}
    if pre_no:
        keys["preNo"] = pre_no
    receipt = Receipt(kind, head.get("guid") or guid, keys, status, at, info[:1000])
    await conn.execute(
        inbox.insert().values(
            dxp_id=dxp_id,
            kind=kind.value,
            message=receipt_message([receipt]).decode(),
            order_no=head.get("orderNo") or None,
            return_status=status,
            return_info=receipt.return_info,
            sent_at=at,
        )
    )


def children(node: object) -> dict[str, str]:
    if node is None:
        return {}
    return {
        etree.QName(child).localname: (child.text or "").strip()
        for child in node  # type: ignore[attr-defined]
        if isinstance(child.tag, str)
    }
