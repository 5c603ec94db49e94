"""The DXP inboxes: every receipt the simulator sends waits in its addressee's inbox, numbered by a
global sequence, until the addressee reads past it (receipts are kept; readers page with ``after``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from flashport.ceb import Receipt, new_guid, receipt_message
from flashport.ceb.receipts import BUSINESS_KEYS
from flashport.sandbox_customs.reading import Envelope
from flashport.sandbox_customs.tables import inbox

RETURN_INFO_MAX = 1000  # XSD: returnInfo maxLength
_SEND = inbox.insert()  # built once: every document filed is answered


def _fit(text: str) -> str:
    return text if len(text) <= RETURN_INFO_MAX else text[: RETURN_INFO_MAX - 1] + "…"


async def answer(
    conn: AsyncConnection,
    envelope: Envelope,
    status: int,
    info: str,
    at: datetime,
    extra_keys: Mapping[str, str | None] | None = None,
) -> None:
    """Send the receipt for the document in ``envelope`` to its sender's inbox.

    The business keys are the head's own (orderNo, copNo...), plus ``extra_keys`` customs assigns
    (preNo, invtNo); the receipt's guid is the head's, which is how the sender finds its document.
    """
    await conn.execute(_SEND, _receipt_row(Answer(envelope, status, info, extra_keys), at))


@dataclass(frozen=True)
class Answer:
    """One receipt to send: :func:`answer`'s arguments, for :class:`Mail`."""

    envelope: Envelope
    status: int
    info: str
    extra_keys: Mapping[str, str | None] | None = None


class Mail:
    """The receipts one message causes, sent together in one statement (:meth:`send`): each order's
    side by side and in the order they were written, as if each document had been answered on its
    own, so a reader paging the inbox never finds an order's verdict a page before its receipt."""

    def __init__(self) -> None:
        self._by_order: dict[str | None, list[dict[str, Any]]] = {}

    def answer(self, answer: Answer, at: datetime) -> None:
        self.post(_receipt_row(answer, at))

    def post(self, row: dict[str, Any]) -> None:
        """Any message for the inbox, as a row of its table (a tax bill, say)."""
        self._by_order.setdefault(row["order_no"], []).append(row)

    async def send(self, conn: AsyncConnection) -> None:
        rows = [row for rows in self._by_order.values() for row in rows]
        self._by_order.clear()
        if rows:
            await conn.execute(_SEND, rows)


def _receipt_row(a: Answer, at: datetime) -> dict[str, Any]:
    envelope = a.envelope
    kind = envelope.kind.receipt_kind
    keys = {name: value for name in BUSINESS_KEYS[kind] if (value := envelope.head.get(name))}
    keys |= {name: value for name, value in (a.extra_keys or {}).items() if value}
    guid = envelope.head.get("guid") or envelope.message_guid or new_guid()
    receipt = Receipt(kind, guid, keys, a.status, at, _fit(a.info))
    return {
        "dxp_id": envelope.dxp_id,
        "kind": kind.value,
        "message": receipt_message([receipt]).decode(),
        "order_no": envelope.order_no,
        "return_status": a.status,
        "return_info": receipt.return_info,
        "sent_at": at,
    }


async def items_after(conn: AsyncConnection, dxp_id: str, after: int, limit: int) -> list[dict[str, Any]]:
    """``{"seq", "kind", "message"}`` of the receipts for ``dxp_id`` with ``seq > after``, oldest first."""
    query = (
        sa.select(inbox.c.seq, inbox.c.kind, inbox.c.message)
        .where(inbox.c.dxp_id == dxp_id, inbox.c.seq > after)
        .order_by(inbox.c.seq)
        .limit(limit)
    )
    return [dict(row._mapping) for row in (await conn.execute(query)).all()]


async def sent_for(conn: AsyncConnection, order_no: str) -> list[dict[str, Any]]:
    """Every receipt about the order number, to whoever it went, oldest first."""
    columns = (inbox.c.seq, inbox.c.dxp_id, inbox.c.kind, inbox.c.return_status, inbox.c.return_info)
    query = sa.select(*columns, inbox.c.sent_at).where(inbox.c.order_no == order_no).order_by(inbox.c.seq)
    return [{**row._mapping, "sent_at": row.sent_at.isoformat()} for row in (await conn.execute(query)).all()]
