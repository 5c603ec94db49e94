"""CEB623, the withdrawal of an accepted inventory list before release: taken only signed (the XSD
requires ``ds:Signature``) by a certificate registered to its ``agentCode``, for the list customs
accepted under the ``invtNo`` it names, and answered with a CEB624 in the declarant's inbox (399
withdrawn, 100 refused with the reason, -1 when the schema or the signature refuses the message).

A list is withdrawn only while it is accepted and not released (``hold_release`` keeps lists there
until customs' officer releases them). A release and a withdrawal of one list are decided once: each
moves the declaration out of ``accepted`` with a conditional update inside the simulator's IMMEDIATE
transaction, so whichever comes first wins and the other is refused ("already released" to the
CEB623, nothing released to the officer). A withdrawn list's declaration is ``cancelled``, its
inventory list is no longer on file, and its buyer's yearly total gets the order's dutiable value back
(it counted from acceptance).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from flashport.ceb import ReceiptKind
from flashport.sandbox_customs import after_sales, store
from flashport.sandbox_customs.certificates import Register
from flashport.sandbox_customs.documents import DocumentKind
from flashport.sandbox_customs.office import Office
from flashport.sandbox_customs.returns import give_back_year_total
from flashport.sandbox_customs.screening import Screened
from flashport.sandbox_customs.statuses import REJECTED, DeclarationState
from flashport.sandbox_customs.store import Declaration
from flashport.sandbox_customs.tables import withdrawals

KIND = "CEB623"
WITHDRAWN = 399  # CEB624: 海关审结, the list is withdrawn
WITHDRAWN_INFO = "撤单申请已审结: inventory list withdrawn"
ALREADY_RELEASED = "already_released"
NOT_ACCEPTED = "not_accepted"
ALREADY_WITHDRAWN = "already_withdrawn"
UNKNOWN_LIST = "unknown_inventory_list"


@dataclass(frozen=True)
class Answer:
    """What customs says to one CEB623: withdraw the list now (``withdraw``), or the CEB624's status
    and ``returnInfo`` (``[code] 中文 / English``) as they are."""

    status: int
    info: str
    withdraw: bool = False


def judge(declaration: Declaration | None, invt_no: str, guid: str, withdrawn_by: str | None) -> Answer:
    """Customs' rule for a CEB623, given the declaration of its orderNo and ebpCode (None: none on
    file), the ``invtNo`` it names, its head guid, and the guid of the CEB623 that withdrew the list
    already, if one did. Pure: the caller applies the answer."""
    if declaration is None:
        return _refused(UNKNOWN_LIST, "清单不存在", f"no inventory list {invt_no} is on file")
    if declaration.invt_no != invt_no or not invt_no:
        return _refused(
            UNKNOWN_LIST,
            "清单编号不符",
            f"{invt_no} is not the inventory number of order {declaration.order_no}",
        )
    if declaration.state is DeclarationState.RELEASED:
        return _refused(
            ALREADY_RELEASED,
            "清单已放行, 不能撤单",
            f"inventory list {invt_no} was released: it cannot be withdrawn; declare a return (CEB625)",
        )
    if declaration.state is DeclarationState.CANCELLED:
        if withdrawn_by is not None and withdrawn_by == guid:  # the same application again
            return Answer(WITHDRAWN, WITHDRAWN_INFO)
        return _refused(ALREADY_WITHDRAWN, "清单已撤销", f"inventory list {invt_no} was withdrawn already")
    if declaration.state is not DeclarationState.ACCEPTED:
        return _refused(
            NOT_ACCEPTED,
            "清单未审结",
            f"inventory list {invt_no} is {declaration.state.value}: delete it with appType 3 instead",
        )
    return Answer(WITHDRAWN, WITHDRAWN_INFO, withdraw=True)


def _refused(code: str, chinese: str, english: str) -> Answer:
    return Answer(REJECTED, f"[{code}] {chinese} / {english}")


def is_withdrawal(raw: bytes) -> bool:
    return after_sales.is_message(raw, KIND)


async def receive(
    conn: AsyncConnection,
    raw: bytes,
    screened: Screened,
    register: Register | None,
    office: Office,
    now: datetime,
) -> str:
    """Judge each ``InvtCancel`` of the message and answer it; returns the message guid. ``register``
    None: signatures are not checked. Raises ``NotACebMessage`` when there is no
    ``BaseTransfer/dxpId`` to answer to."""
    return await after_sales.receive_each(
        conn,
        raw,
        screened,
        register,
        office,
        now,
        kind=KIND,
        application="InvtCancel",
        head_of=None,
        judge=_withdraw,
        receipt=ReceiptKind.CANCELLATION,
    )


async def _withdraw(
    conn: AsyncConnection, head: dict[str, str], office: Office, now: datetime
) -> tuple[int, str, str | None]:
    order_no, ebp_code, invt_no = head.get("orderNo", ""), head.get("ebpCode", ""), head.get("invtNo", "")
    declaration = await after_sales.declaration_of(conn, order_no, ebp_code)
    withdrawn_by = await conn.scalar(
        sa.select(withdrawals.c.guid)
        .where(withdrawals.c.order_no == order_no, withdrawals.c.ebp_code == ebp_code)
        .order_by(withdrawals.c.id.desc())
        .limit(1)
    )
    verdict = judge(declaration, invt_no, head.get("guid", ""), withdrawn_by)
    pre_no = declaration.pre_no if declaration is not None else None
    if not verdict.withdraw or declaration is None:
        return verdict.status, verdict.info, pre_no
    moved = await store.move_declaration(
        conn,
        declaration,
        DeclarationState.ACCEPTED,
        DeclarationState.CANCELLED,
        now,
        reason_code="withdrawn",
        reason_text=f"withdrawn by CEB623: {head.get('reason', '')}"[:1000],
    )
    if not moved:  # released first (the officer's release took the list out of accepted)
        late = judge(dataclasses.replace(declaration, state=DeclarationState.RELEASED), invt_no, "", None)
        return late.status, late.info, pre_no
    on_file = await store.documents_on_file(conn, order_no, ebp_code)
    value = await give_back_year_total(conn, order_no, ebp_code, office)
    if (listed := on_file.get(DocumentKind.INVENTORY)) is not None:
        await store.supersede(conn, listed)
    await conn.execute(
        withdrawals.insert().values(
            order_no=order_no,
            ebp_code=ebp_code,
            invt_no=invt_no,
            cop_no=head.get("copNo") or None,
            guid=head.get("guid", ""),
            withdrawn_fen=value,
            received_at=now,
        )
    )
    return verdict.status, verdict.info, pre_no
