"""CEB513, the carrier's "signed for": taken only for a waybill on file whose parcel customs released,
once per waybill, and answered with a CEB514 in the carrier's inbox (399 recorded, 100 refused with
the reason, -1 when the schema or the signature refuses the message).

The CEB513 is not one of the four documents of the three-document match, so it is filed apart from
them (:data:`~.tables.deliveries`), never in ``documents``.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from lxml import etree
from sqlalchemy.ext.asyncio import AsyncConnection

from flashport.ceb import Receipt, ReceiptKind, new_guid
from flashport.ceb.xml import CEB_NS, ceb, safe_parser
from flashport.sandbox_customs import store
from flashport.sandbox_customs.documents import DocumentKind
from flashport.sandbox_customs.reading import NotACebMessage, children
from flashport.sandbox_customs.screening import Screened
from flashport.sandbox_customs.statuses import PROCESSING_ERROR, REJECTED, DeclarationState
from flashport.sandbox_customs.tables import CURRENT, declarations, deliveries, documents

KIND = "CEB513"
RECORDED = 399  # CEB514: 海关审结, the status is on file
# Screening checks a signature if there is one; it is optional on a CEB513 as on a CEB511.
SCREENED_AS = DocumentKind.WAYBILL


def is_delivery(raw: bytes) -> bool:
    """Whether the bytes are a CEB513 message (anything unreadable is left to the usual path)."""
    try:
        root = etree.fromstring(raw, parser=safe_parser())
    except (etree.XMLSyntaxError, ValueError):
        return False
    return bool(root.tag == f"{{{CEB_NS}}}{KIND}Message")


async def receive(conn: AsyncConnection, raw: bytes, screened: Screened, now: datetime) -> str:
    """Judge each ``LogisticsStatus`` of the message and answer it; returns the message guid.
    Raises ``NotACebMessage`` when there is no ``BaseTransfer/dxpId`` to answer to."""
    root = etree.fromstring(raw, parser=safe_parser())
    dxp_id = (root.findtext(f"{ceb('BaseTransfer')}/{ceb('dxpId')}") or "").strip()
    if not dxp_id:
        raise NotACebMessage(f"{KIND}Message without BaseTransfer/dxpId: nowhere to send receipts")
    for node in root.findall(ceb("LogisticsStatus")) or [None]:
        head = children(node)
        if screened.problem is not None:
            status, info = PROCESSING_ERROR, screened.problem
        else:
            status, info = await _judge(conn, head, now)
        await _answer(conn, dxp_id, head, root.get("guid") or new_guid(), status, info, now)
    return root.get("guid") or ""


async def _judge(conn: AsyncConnection, head: dict[str, str], now: datetime) -> tuple[int, str]:
    code, number = head.get("logisticsCode", ""), head.get("logisticsNo", "")
    order_no = await conn.scalar(
        sa.select(documents.c.order_no).where(
            documents.c.kind == DocumentKind.WAYBILL.value,
            documents.c.owner_code == code,
            documents.c.unique_no == number,
            documents.c.status == CURRENT,
        )
    )
    if order_no is None:
        return REJECTED, f"运单不存在: no waybill {number} of carrier {code} is on file"
    released = await conn.scalar(
        sa.select(declarations.c.id).where(
            declarations.c.order_no == order_no, declarations.c.state == DeclarationState.RELEASED.value
        )
    )
    if released is None:
        return REJECTED, f"未放行: the parcel of waybill {number} was not released by customs"
    known = await conn.scalar(
        sa.select(deliveries.c.id).where(
            deliveries.c.logistics_code == code, deliveries.c.logistics_no == number
        )
    )
    if known is None:
        await conn.execute(
            deliveries.insert().values(
                logistics_code=code,
                logistics_no=number,
                order_no=order_no,
                logistics_time=head.get("logisticsTime", ""),
                guid=head.get("guid", ""),
                received_at=now,
            )
        )
    return RECORDED, f"签收信息已入库: waybill {number} signed for"


async def _answer(
    conn: AsyncConnection, dxp_id: str, head: dict[str, str], guid: str, status: int, info: str, at: datetime
) -> None:
    keys = {
        name: value
        for name in ("logisticsCode", "logisticsNo", "logisticsStatus")
        if (value := head.get(name))
    }
    receipt = Receipt(ReceiptKind.DELIVERY, head.get("guid") or guid, keys, status, at, info[:1000])
    await store.post_receipt(conn, dxp_id, receipt, None)
