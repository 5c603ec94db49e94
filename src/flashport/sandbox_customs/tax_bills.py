"""The tax bill family: customs bills the tax it assessed on each released inventory list (CEB816,
status 1 issued) to the declarant's inbox, and tells the status of each bill (CEB818) when it changes:
2 summarised, when the month's bills are gathered into the summary the guarantor pays (汇总征税), or
3 cancelled.

The real single window summarises on its own calendar; the simulator does it when asked
(``POST /admin/tax-bills/summarise``), so tests and the demo choose the moment.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from flashport.ceb.formatting import CHINA_STANDARD_TIME, new_guid
from flashport.ceb.tax_bills import (
    TAX_BILL,
    TAX_BILL_STATUS,
    TaxBill,
    TaxBillLine,
    TaxBillState,
    TaxBillStatus,
    tax_bill_message,
    tax_status_message,
)
from flashport.sandbox_customs.inbox import Mail
from flashport.sandbox_customs.reading import Envelope
from flashport.sandbox_customs.store import Declaration
from flashport.sandbox_customs.tables import inbox, tax_bills
from flashport.sandbox_customs.tariff import Assessment


@dataclass(frozen=True)
class Summary:
    period: str  # YYYY-MM, China time
    bills: int
    total_fen: int


def _bill(listed: Envelope, invt_no: str, assessed: Assessment, at: datetime) -> TaxBill:
    head = listed.head
    return TaxBill(
        guid=new_guid(),
        return_time=at,
        invt_no=invt_no,
        tax_no=f"{invt_no}01",  # one bill per inventory list: its number and a sequence
        customs_tax_fen=assessed.customs_tax_fen,
        vat_fen=assessed.vat_fen,
        consumption_tax_fen=assessed.consumption_tax_fen,
        status=TaxBillStatus.ISSUED,
        lines=tuple(
            TaxBillLine(
                line.gnum,
                line.gcode,
                line.base_fen,
                line.customs_tax_fen,
                line.vat_fen,
                line.consumption_tax_fen,
            )
            for line in assessed.lines
        ),
        assure_code=head.get("assureCode") or None,
        ebc_code=head.get("ebcCode") or None,
        logistics_code=head.get("logisticsCode") or None,
        agent_code=head.get("agentCode") or None,
        customs_code=head.get("customsCode") or None,
    )


async def _post(
    conn: AsyncConnection, dxp_id: str, kind: str, message: bytes, order_no: str, info: str, at: datetime
) -> None:
    await conn.execute(
        inbox.insert().values(
            dxp_id=dxp_id,
            kind=kind,
            message=message.decode(),
            order_no=order_no,
            return_status=0,
            return_info=info,
            sent_at=at,
        )
    )


async def issue(
    conn: AsyncConnection,
    declaration: Declaration,
    listed: Envelope,
    invt_no: str,
    assessed: Assessment,
    at: datetime,
) -> None:
    """Bill the released list's tax to whoever declared it (its inbox), inside the release's transaction."""
    mail = Mail()
    await issue_many(conn, [(declaration, listed, invt_no, assessed)], at, mail)
    await mail.send(conn)


_BILL = tax_bills.insert()


async def issue_many(
    conn: AsyncConnection,
    released: Sequence[tuple[Declaration, Envelope, str, Assessment]],
    at: datetime,
    mail: Mail,
) -> None:
    """:func:`issue` for many released lists: one statement for the bills; their CEB816s go with
    ``mail``."""
    bills = []
    for declaration, listed, invt_no, assessed in released:
        bill = _bill(listed, invt_no, assessed, at)
        message = tax_bill_message([bill]).decode()
        bills.append(
            {
                "tax_no": bill.tax_no,
                "invt_no": invt_no,
                "order_no": declaration.order_no,
                "ebp_code": declaration.ebp_code,
                "dxp_id": listed.dxp_id,
                "status": bill.status.value,
                "total_fen": bill.total_fen,
                "message": message,
                "issued_at": at,
                "updated_at": at,
            }
        )
        mail.post(
            {
                "dxp_id": listed.dxp_id,
                "kind": TAX_BILL,
                "message": message,
                "order_no": declaration.order_no,
                "return_status": 0,
                "return_info": f"tax bill {bill.tax_no}: {bill.total_fen} fen",
                "sent_at": at,
            }
        )
    if bills:
        await conn.execute(_BILL, bills)


def period_of(moment: datetime) -> str:
    return moment.astimezone(CHINA_STANDARD_TIME).strftime("%Y-%m")


async def summarise(conn: AsyncConnection, period: str, at: datetime) -> Summary:
    """Gather every issued bill of ``period`` (YYYY-MM, by issue time in China) into the summary:
    status 2, and a CEB818 for each to its agent."""
    rows = (
        await conn.execute(sa.select(tax_bills).where(tax_bills.c.status == TaxBillStatus.ISSUED.value))
    ).all()
    chosen = [row for row in rows if period_of(row.issued_at) == period]
    for row in chosen:
        state = TaxBillState(new_guid(), at, row.invt_no, row.tax_no, TaxBillStatus.SUMMARISED)
        await conn.execute(
            tax_bills.update()
            .where(tax_bills.c.id == row.id)
            .values(status=TaxBillStatus.SUMMARISED.value, updated_at=at)
        )
        info = f"tax bill {row.tax_no}: summarised for {period}"
        await _post(conn, row.dxp_id, TAX_BILL_STATUS, tax_status_message([state]), row.order_no, info, at)
    return Summary(period, len(chosen), sum(row.total_fen for row in chosen))
